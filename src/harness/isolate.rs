//! Making a config safe to run beside other labs: its own name, its VPC moved to a 10.X.0.0/16
//! block of its own, and its host ports moved to free ones. A pure rewrite of the typed config
//! ([`isolate`]); the I/O that chooses the name, block and ports is in `builder`.
//!
//! What changes, and why each is needed for two labs of one config to run at once:
//! - `[lab] name`: every Docker object, the state directory and the run lock are named by it;
//! - the VPC, every subnet and every CIDR rule inside the VPC: Docker refuses two networks
//!   whose subnets overlap;
//! - each listener's port, a redirect to such a port, and the ingress rules of the load
//!   balancers' security groups for it (validation checks that they allow the listeners);
//! - `api-port` and `metrics-port` become 0 (any free port, read back from the running lab).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::config::{Action, Config, Ipv4Net, PortRange, SgPeer};

/// The new identity of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// The new `[lab] name`.
    pub name: String,
    /// The /16 block the VPC moves into (10.X.0.0/16).
    pub block: Ipv4Net,
    /// Old listener port → new listener port.
    pub ports: BTreeMap<u16, u16>,
}

/// Why a config cannot be isolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolateError {
    #[error(
        "[vpc] cidr = \"{0}\": the harness moves each lab's VPC into a /16 block of its own; a VPC larger than a /16 does not fit"
    )]
    VpcTooLarge(Ipv4Net),
}

/// The listener ports of `config` that bind a fixed port (0 is left to the OS already).
pub fn listener_ports(config: &Config) -> Vec<u16> {
    let mut ports: Vec<u16> = config
        .load_balancers
        .values()
        .flat_map(|lb| lb.listeners.iter().map(|l| l.port()))
        .filter(|p| *p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Rewrites `config` for `isolation` (see the module docs).
pub fn isolate(mut config: Config, isolation: &Isolation) -> Result<Config, IsolateError> {
    if config.vpc.cidr.prefix < 16 {
        return Err(IsolateError::VpcTooLarge(config.vpc.cidr));
    }
    config.lab.name = isolation.name.clone();
    config.lab.api_port = 0;
    move_vpc(&mut config, isolation.block);
    move_ports(&mut config, &isolation.ports);
    Ok(config)
}

/// Moves the VPC and every CIDR within it into `block`, keeping each one's offset in its /16.
fn move_vpc(config: &mut Config, block: Ipv4Net) {
    let old = config.vpc.cidr;
    let moved = |net: Ipv4Net| -> Ipv4Net {
        if !old.contains(&net) {
            return net;
        }
        let offset = u32::from(net.addr) & 0x0000_ffff;
        Ipv4Net {
            addr: Ipv4Addr::from(u32::from(block.addr) & 0xffff_0000 | offset),
            prefix: net.prefix,
        }
    };
    for subnet in config.vpc.subnets.values_mut() {
        subnet.cidr = moved(subnet.cidr);
    }
    for group in config.security_groups.values_mut() {
        for rule in group.ingress.iter_mut().chain(group.egress.iter_mut()) {
            if let SgPeer::Cidr(net) = &mut rule.peer {
                *net = moved(*net);
            }
        }
    }
    config.vpc.cidr = moved(old);
}

/// Moves listener ports (and what refers to them) as `ports` says; metrics ports become 0.
fn move_ports(config: &mut Config, ports: &BTreeMap<u16, u16>) {
    let new = |port: u16| ports.get(&port).copied().unwrap_or(port);
    let mut lb_groups = Vec::new();
    for lb in config.load_balancers.values_mut() {
        lb_groups.extend(lb.security_groups.iter().cloned());
        if lb.metrics_port.is_some() {
            lb.metrics_port = Some(0);
        }
        for listener in &mut lb.listeners {
            listener.bind.set_port(new(listener.bind.port()));
            let actions = std::iter::once(&mut listener.default_action)
                .chain(listener.rules.iter_mut().map(|r| &mut r.action));
            for action in actions {
                if let Action::Redirect(redirect) = action {
                    redirect.port = redirect.port.map(new);
                }
            }
        }
    }
    for name in lb_groups {
        let Some(group) = config.security_groups.get_mut(&name) else {
            continue;
        };
        for rule in &mut group.ingress {
            if let Some(PortRange { from, to }) = &mut rule.ports
                && from == to
            {
                *from = new(*from);
                *to = *from;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reference() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
        crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
    }

    fn isolation() -> Isolation {
        Isolation {
            name: "flask-app-42-0".into(),
            block: "10.123.0.0/16".parse().unwrap(),
            ports: BTreeMap::from([(8080, 41080), (8443, 41443)]),
        }
    }

    #[test]
    fn the_listener_ports_of_the_reference_are_8080_and_8443() {
        assert_eq!(listener_ports(&reference()), [8080, 8443]);
    }

    #[test]
    fn the_name_and_api_port_change() {
        let config = isolate(reference(), &isolation()).unwrap();
        assert_eq!(config.lab.name, "flask-app-42-0");
        assert_eq!(config.lab.api_port, 0);
    }

    #[test]
    fn the_vpc_and_its_subnets_move_into_the_block_keeping_their_offsets() {
        let config = isolate(reference(), &isolation()).unwrap();
        assert_eq!(config.vpc.cidr.to_string(), "10.123.0.0/16");
        let subnet = |name: &str| config.vpc.subnets[name].cidr.to_string();
        assert_eq!(subnet("public-subnet-1a"), "10.123.1.0/24");
        assert_eq!(subnet("private-db-subnet-1b"), "10.123.6.0/24");
        let block: Ipv4Net = "10.123.0.0/16".parse().unwrap();
        assert!(config.vpc.subnets.values().all(|s| block.contains(&s.cidr)));
    }

    #[test]
    fn cidr_rules_inside_the_vpc_move_and_those_outside_stay() {
        let mut config = reference();
        let group = config.security_groups.get_mut("app-sg").unwrap();
        group.ingress[0].peer = SgPeer::Cidr("10.0.1.0/24".parse().unwrap());
        let config = isolate(config, &isolation()).unwrap();
        let app = &config.security_groups["app-sg"];
        assert_eq!(
            app.ingress[0].peer,
            SgPeer::Cidr("10.123.1.0/24".parse().unwrap())
        );
        // 0.0.0.0/0 (the internet) is not the VPC's.
        let outside = app
            .egress
            .iter()
            .find(|r| matches!(&r.peer, SgPeer::Cidr(n) if n.prefix == 0));
        assert!(outside.is_some());
    }

    #[test]
    fn listeners_redirects_and_the_load_balancer_group_follow_the_new_ports() {
        let config = isolate(reference(), &isolation()).unwrap();
        let lb = &config.load_balancers["flask-app-alb"];
        let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port()).collect();
        assert_eq!(ports, [41080, 41443]);
        let Action::Redirect(redirect) = &lb.listeners[0].default_action else {
            panic!("the HTTP listener redirects");
        };
        assert_eq!(redirect.port, Some(41443));
        let alb_sg: Vec<_> = config.security_groups["alb-sg"]
            .ingress
            .iter()
            .map(|r| r.ports.unwrap().from)
            .collect();
        assert_eq!(alb_sg, [41080, 41443]);
        // The app's port 8000 is not a listener's: untouched.
        let app = config.security_groups["app-sg"].ingress[0].ports.unwrap();
        assert_eq!((app.from, app.to), (8000, 8000));
    }

    #[test]
    fn a_vpc_larger_than_a_slash_16_is_refused_by_its_key() {
        let mut config = reference();
        config.vpc.cidr = "10.0.0.0/8".parse().unwrap();
        let e = isolate(config, &isolation()).unwrap_err().to_string();
        assert!(e.starts_with("[vpc] cidr = \"10.0.0.0/8\""), "{e}");
    }
}
