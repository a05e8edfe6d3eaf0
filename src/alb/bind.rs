//! Why a socket of the load balancer could not be bound, in words that say what to change.
//!
//! `cannot bind 127.0.0.1:8443: address in use (port 8443 is in use); set `port` of
//! [[load-balancers.flask-app-alb.listeners]] in emulator.toml`: the address, the cause in plain
//! words, and the key that fixes it.

use std::io;
use std::net::SocketAddr;

/// Which setting chose the address that could not be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindSetting {
    /// A listener (`port` and `bind` of `[[load-balancers.NAME.listeners]]`); `None` while the
    /// load balancer's name is not known yet.
    Listener {
        /// The load balancer's name.
        load_balancer: Option<String>,
    },
    /// `[load-balancers.NAME] metrics-port`.
    MetricsPort {
        /// The load balancer's name.
        load_balancer: String,
    },
}

impl BindSetting {
    /// The table whose keys chose the address, as written in the config file.
    fn table(&self) -> String {
        match self {
            BindSetting::Listener {
                load_balancer: Some(name),
            } => format!("[[load-balancers.{name}.listeners]]"),
            BindSetting::Listener {
                load_balancer: None,
            } => "the listener".to_string(),
            BindSetting::MetricsPort { load_balancer } => {
                format!("[load-balancers.{load_balancer}]")
            }
        }
    }

    /// The key that sets the port.
    fn port_key(&self) -> &'static str {
        match self {
            BindSetting::Listener { .. } => "port",
            BindSetting::MetricsPort { .. } => "metrics-port",
        }
    }
}

/// The cause in plain words, then what to change: everything after `cannot bind ADDR: `.
pub fn explain(addr: SocketAddr, kind: io::ErrorKind, setting: &BindSetting) -> String {
    let port = addr.port();
    let table = setting.table();
    let port_key = setting.port_key();
    match kind {
        io::ErrorKind::AddrInUse => format!(
            "address in use (port {port} is in use); set `{port_key}` of {table} in emulator.toml"
        ),
        io::ErrorKind::PermissionDenied if port < 1024 => format!(
            "permission denied (port {port} needs root or CAP_NET_BIND_SERVICE for ports < 1024); \
             set `{port_key}` of {table} to 1024 or above, or grant the capability"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("permission denied; set `{port_key}` of {table} in emulator.toml")
        }
        io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; set `bind` of {table} in emulator.toml",
            addr.ip()
        ),
        other => format!("{other}; check `{port_key}` of {table} in emulator.toml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(name: &str) -> BindSetting {
        BindSetting::Listener {
            load_balancer: Some(name.to_string()),
        }
    }

    #[test]
    fn in_use_names_the_cause_and_the_key() {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(
            explain(addr, io::ErrorKind::AddrInUse, &listener("flask-app-alb")),
            "address in use (port 8443 is in use); set `port` of \
             [[load-balancers.flask-app-alb.listeners]] in emulator.toml"
        );
    }

    #[test]
    fn low_ports_mention_the_capability() {
        let addr: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let text = explain(addr, io::ErrorKind::PermissionDenied, &listener("a"));
        assert!(text.contains("CAP_NET_BIND_SERVICE"), "{text}");
        assert!(text.contains("[[load-balancers.a.listeners]]"), "{text}");
    }

    #[test]
    fn a_foreign_address_points_at_bind() {
        let addr: SocketAddr = "10.9.9.9:8080".parse().unwrap();
        let text = explain(addr, io::ErrorKind::AddrNotAvailable, &listener("a"));
        assert!(text.starts_with("10.9.9.9 is not an address"), "{text}");
        assert!(text.contains("`bind`"), "{text}");
    }

    #[test]
    fn the_metrics_port_names_its_own_key() {
        let addr: SocketAddr = "127.0.0.1:9100".parse().unwrap();
        let setting = BindSetting::MetricsPort {
            load_balancer: "a".into(),
        };
        assert!(
            explain(addr, io::ErrorKind::AddrInUse, &setting)
                .ends_with("set `metrics-port` of [load-balancers.a] in emulator.toml")
        );
    }
}
