//! Offset paging, as the ECS, RDS and Application Auto Scaling APIs here give it out: the token
//! (or marker) is the index of the next item. Each API checks its own bounds and words its own
//! errors; this is the slice they share.

/// The `size` items of `items` from index `from`, and the token of the next page when more
/// follow.
pub fn offset_page<T>(items: Vec<T>, from: usize, size: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(from).take(size).collect();
    let next = (from + size < total).then(|| (from + size).to_string());
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hand_out_the_next_offset_until_the_end() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            offset_page(items.clone(), 0, 2),
            (vec![0, 1], Some("2".into()))
        );
        assert_eq!(offset_page(items.clone(), 3, 2), (vec![3, 4], None));
        assert_eq!(offset_page(items, 9, 2), (vec![], None));
    }
}
