//! Which 10.X.0.0/16 block a harness lab's VPC moves into: one that overlaps no Docker network
//! on this engine (any lab's, any other project's) and that no other lab of this process has
//! claimed but not yet created. The choice is a pure function ([`choose`]); the claims of this
//! process are a guarded set ([`Claim`]), released when the lab is dropped.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use crate::config::Ipv4Net;

/// The second octets a harness lab may use: clear of 10.0 (the default topology's) and of
/// the low blocks people give their own networks.
pub const OCTETS: std::ops::RangeInclusive<u8> = 100..=249;

/// Blocks claimed by labs of this process (their networks may not exist yet).
static CLAIMED: Mutex<BTreeSet<u8>> = Mutex::new(BTreeSet::new());

/// The block 10.`octet`.0.0/16.
pub fn block(octet: u8) -> Ipv4Net {
    Ipv4Net {
        addr: Ipv4Addr::new(10, octet, 0, 0),
        prefix: 16,
    }
}

/// The first octet of [`OCTETS`], scanning from `start` and wrapping, whose block overlaps none
/// of `taken` and is not in `claimed`. Starting at a per-process offset keeps two test
/// processes that scan at the same moment apart.
pub fn choose(taken: &[Ipv4Net], claimed: &BTreeSet<u8>, start: u8) -> Option<u8> {
    let (low, high) = (*OCTETS.start(), *OCTETS.end());
    let span = u16::from(high - low) + 1;
    let first = u16::from(start.clamp(low, high) - low);
    (0..span)
        .map(|i| low + ((first + i) % span) as u8)
        .find(|octet| !claimed.contains(octet) && taken.iter().all(|t| !t.overlaps(&block(*octet))))
}

/// An octet claimed for one lab; released when dropped.
#[derive(Debug)]
pub struct Claim {
    octet: u8,
}

impl Claim {
    /// Claims a free block given the networks that exist now; `None` when every block is taken.
    pub fn take(taken: &[Ipv4Net]) -> Option<Claim> {
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        let start = *OCTETS.start() + (std::process::id() % 150) as u8;
        let octet = choose(taken, &claimed, start)?;
        claimed.insert(octet);
        Some(Claim { octet })
    }

    pub fn block(&self) -> Ipv4Net {
        block(self.octet)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        claimed.remove(&self.octet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Net {
        text.parse().unwrap()
    }

    #[test]
    fn the_start_block_is_taken_when_free() {
        assert_eq!(choose(&[], &BTreeSet::new(), 120), Some(120));
    }

    #[test]
    fn a_block_overlapping_any_network_is_skipped() {
        // A lab's subnet inside 10.120/16, and someone's 10.121.0.0/17.
        let taken = [
            net("10.120.3.0/24"),
            net("10.121.0.0/17"),
            net("172.17.0.0/16"),
        ];
        assert_eq!(choose(&taken, &BTreeSet::new(), 120), Some(122));
    }

    #[test]
    fn a_network_spanning_many_blocks_excludes_them_all() {
        let taken = [net("10.96.0.0/11")]; // 10.96 .. 10.127
        assert_eq!(choose(&taken, &BTreeSet::new(), 100), Some(128));
    }

    #[test]
    fn blocks_claimed_in_this_process_are_skipped_and_the_scan_wraps() {
        let claimed = BTreeSet::from([249, 100]);
        assert_eq!(choose(&[], &claimed, 249), Some(101));
    }

    #[test]
    fn none_when_every_block_is_taken() {
        assert_eq!(choose(&[net("10.0.0.0/8")], &BTreeSet::new(), 150), None);
    }

    #[test]
    fn two_claims_get_two_blocks_and_a_released_one_is_free_again() {
        let a = Claim::take(&[]).unwrap();
        let b = Claim::take(&[]).unwrap();
        assert_ne!(a.block(), b.block());
        let octet = a.octet;
        drop(a);
        assert!(!CLAIMED.lock().unwrap().contains(&octet));
    }
}
