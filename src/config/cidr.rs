//! [`Ipv4Net`]: parsing, printing and the set arithmetic the VPC rules need.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::model::Ipv4Net;

impl Ipv4Net {
    /// The network `addr/prefix` with host bits cleared. `None` if `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// Whether `addr` lies in this network.
    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether `other` lies wholly inside this network (a network contains itself).
    pub fn contains(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains_addr(other.addr)
    }

    /// Whether the two networks share at least one address. CIDR blocks either nest or are
    /// disjoint, so this is containment one way or the other.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The first host address (network + 1): where AWS puts the VPC router and Docker the bridge
    /// gateway, so it doubles as [`Ipv4Net::gateway`].
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr).wrapping_add(1))
    }

    /// The gateway address of a Docker network built from this block (network + 1).
    pub fn gateway(&self) -> Ipv4Addr {
        self.first_host()
    }
}

/// The netmask of a prefix length as a u32 (`/0` is all zeros; shifting by 32 would overflow).
fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    /// Parses `a.b.c.d/n`. Host bits must be zero: `10.0.1.5/24` is refused with a suggestion,
    /// because AWS refuses it too and a silent fix would hide a typo.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR block (expected a.b.c.d/n)"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
        let net = prefix
            .parse::<u8>()
            .ok()
            .and_then(|p| Ipv4Net::new(addr, p))
            .ok_or_else(|| format!("`/{prefix}` is not a prefix length (0..=32)"))?;
        if net.addr != addr {
            return Err(format!("{s} has host bits set; did you mean {net}?"));
        }
        Ok(net)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(net("10.0.3.0/24").to_string(), "10.0.3.0/24");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(net("10.0.0.7/32").to_string(), "10.0.0.7/32");
    }

    #[test]
    fn refuses_host_bits_with_a_suggestion() {
        let err = "10.0.1.5/24".parse::<Ipv4Net>().unwrap_err();
        assert_eq!(
            err,
            "10.0.1.5/24 has host bits set; did you mean 10.0.1.0/24?"
        );
    }

    #[test]
    fn refuses_malformed() {
        assert!(
            "10.0.1.0"
                .parse::<Ipv4Net>()
                .unwrap_err()
                .contains("not a CIDR")
        );
        assert!(
            "10.0.1/24"
                .parse::<Ipv4Net>()
                .unwrap_err()
                .contains("not an IPv4")
        );
        assert!(
            "10.0.1.0/33"
                .parse::<Ipv4Net>()
                .unwrap_err()
                .contains("/33")
        );
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = net("10.0.0.0/16");
        assert!(vpc.contains(&net("10.0.3.0/24")));
        assert!(!vpc.contains(&net("10.1.3.0/24")));
        assert!(!net("10.0.3.0/24").contains(&vpc));
        assert!(net("10.0.0.0/23").overlaps(&net("10.0.1.0/24")));
        assert!(!net("10.0.1.0/24").overlaps(&net("10.0.2.0/24")));
        assert!(net("0.0.0.0/0").contains_addr(Ipv4Addr::new(8, 8, 8, 8)));
    }

    #[test]
    fn gateway_is_network_plus_one() {
        assert_eq!(net("10.0.3.0/24").gateway(), Ipv4Addr::new(10, 0, 3, 1));
        assert_eq!(net("10.0.3.0/24").first_host(), Ipv4Addr::new(10, 0, 3, 1));
    }
}
