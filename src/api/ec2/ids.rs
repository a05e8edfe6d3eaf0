//! Ids EC2 shows that the registry does not keep: derived from ids it does keep, so they are as
//! stable as those (same across `down`/`up`), and availability-zone ids.

use ring::digest;

/// `prefix-` and 17 hex digits of SHA-256 over `parts` (AWS's long id format).
pub fn derived(prefix: &str, parts: &[&str]) -> String {
    let hash = digest::digest(&digest::SHA256, parts.join("/").as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{}", &hex[..17])
}

/// The zone id AWS pairs with a zone name: `us-east-1a` → `use1-az1`, `ap-southeast-2b` →
/// `apse2-az2` (AWS maps letters to ids per account; tierlab's account maps them in order). A
/// name that is not a region and a letter is its own id.
pub fn availability_zone_id(zone: &str) -> String {
    let mut tail = zone.chars().rev();
    let (Some(letter), Some(digit)) = (tail.next(), tail.next()) else {
        return zone.to_string();
    };
    if !letter.is_ascii_lowercase() || !digit.is_ascii_digit() {
        return zone.to_string();
    }
    let region = &zone[..zone.len() - 1];
    let mut short = String::new();
    let parts: Vec<&str> = region.split('-').collect();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 || i == parts.len() - 1 {
            short.push_str(part);
        } else {
            short.push_str(direction(part));
        }
    }
    format!("{short}-az{}", u32::from(letter) - u32::from('a') + 1)
}

fn direction(word: &str) -> &str {
    match word {
        "northeast" => "ne",
        "northwest" => "nw",
        "southeast" => "se",
        "southwest" => "sw",
        _ => &word[..word.len().min(1)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_shaped() {
        let a = derived("rtbassoc", &["rtb-1", "subnet-1"]);
        assert_eq!(a, derived("rtbassoc", &["rtb-1", "subnet-1"]));
        assert_ne!(a, derived("rtbassoc", &["rtb-1", "subnet-2"]));
        assert_eq!(a.len(), "rtbassoc-".len() + 17);
    }

    #[test]
    fn zone_ids_follow_aws_short_names() {
        assert_eq!(availability_zone_id("us-east-1a"), "use1-az1");
        assert_eq!(availability_zone_id("us-east-1b"), "use1-az2");
        assert_eq!(availability_zone_id("eu-west-2c"), "euw2-az3");
        assert_eq!(availability_zone_id("ap-southeast-2a"), "apse2-az1");
        assert_eq!(availability_zone_id("us-gov-west-1a"), "usgw1-az1");
        assert_eq!(availability_zone_id("az-a"), "az-a");
    }
}
