//! A counter the data-plane threads add to without sharing a cache line: one cell per thread
//! (modulo the cell count), each on its own line, summed when read. A counter every request
//! bumps would otherwise move between the cores' caches on each request; reads (metrics
//! rendering, the dashboard) are rare and may sum.

use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::data_plane;

/// Cells per counter, whatever a load balancer's `data-plane-threads`: threads beyond it share
/// cells (correct, only slower).
const MAX_CELLS: usize = 64;

/// One cell, alone on its cache line (64 bytes on x86-64 and most arm64).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Cell(AtomicU64);

/// A cumulative count, added to by many threads and read as one number.
#[derive(Debug)]
pub struct Counter {
    cells: Box<[Cell]>,
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

impl Counter {
    /// A counter at zero, with a cell per CPU this process may use (at most [`MAX_CELLS`]).
    pub fn new() -> Counter {
        Counter::with_cells(cells_per_counter())
    }

    /// A counter at zero with `cells` cells (at least one).
    pub fn with_cells(cells: usize) -> Counter {
        Counter {
            cells: (0..cells.max(1)).map(|_| Cell::default()).collect(),
        }
    }

    /// Adds `n` in the calling data-plane thread's cell (the first cell off those threads).
    pub fn add(&self, n: u64) {
        let worker = data_plane::current_worker().unwrap_or(0);
        self.add_in(worker, n);
    }

    /// Adds one.
    pub fn increment(&self) {
        self.add(1);
    }

    /// The sum over every cell. Not a snapshot of one instant, as no counter read ever is.
    pub fn get(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |sum, c| sum.wrapping_add(c.0.load(Relaxed)))
    }

    fn add_in(&self, worker: usize, n: u64) {
        self.cells[worker % self.cells.len()]
            .0
            .fetch_add(n, Relaxed);
    }
}

fn cells_per_counter() -> usize {
    static CELLS: OnceLock<usize> = OnceLock::new();
    *CELLS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(MAX_CELLS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_sum_to_the_count() {
        let counter = Counter::with_cells(4);
        for worker in 0..10 {
            counter.add_in(worker, 3);
        }
        assert_eq!(counter.get(), 30);
        // Threads beyond the cells share them.
        assert_eq!(counter.cells[1].0.load(Relaxed), 9);
    }

    #[test]
    fn off_the_data_plane_it_still_counts() {
        let counter = Counter::new();
        counter.increment();
        counter.add(41);
        assert_eq!(counter.get(), 42);
        assert_eq!(Counter::with_cells(0).cells.len(), 1);
    }

    #[test]
    fn threads_adding_at_once_lose_nothing() {
        let counter = std::sync::Arc::new(Counter::with_cells(2));
        let threads: Vec<_> = (0..4)
            .map(|worker| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        counter.add_in(worker, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.get(), 40_000);
    }

    #[test]
    fn each_cell_has_its_own_cache_line() {
        assert_eq!(std::mem::align_of::<Cell>(), 64);
        let counter = Counter::with_cells(2);
        let (a, b) = (
            &counter.cells[0] as *const Cell,
            &counter.cells[1] as *const Cell,
        );
        assert_eq!(b as usize - a as usize, 64);
    }
}
