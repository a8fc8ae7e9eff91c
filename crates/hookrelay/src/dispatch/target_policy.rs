//! Which addresses webhooks may be sent to (the SSRF guard).
//!
//! A webhook URL is chosen by a tenant, so without this guard anyone who can create a webhook could
//! make hookrelay POST into the operator's private network or a cloud metadata service. The check
//! runs on the addresses a host name resolves to, inside the HTTP client's resolver, so the
//! connection goes to an address that was checked (DNS rebinding cannot slip a private address in
//! between the check and the connect). IP literals never reach a resolver and are checked first.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::IpNet;

/// The guard: refuses non-public addresses unless an allowed network contains them.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allowed: Vec<IpNet>,
}

/// Why an address was refused; the text tells the user how to allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target address {ip} is {kind}, which is refused by default; to allow it set HOOKRELAY_ALLOWED_TARGET_NETWORKS to a network containing it (e.g. {hint})")]
pub struct Blocked {
    pub ip: IpAddr,
    pub kind: &'static str,
    pub hint: String,
}

impl TargetPolicy {
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        let Some(kind) = non_public_kind(ip) else {
            return Ok(());
        };
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        let hint = match ip {
            IpAddr::V4(v4) if v4.is_loopback() => "127.0.0.0/8".to_string(),
            IpAddr::V4(_) => format!("{ip}/32"),
            IpAddr::V6(_) => format!("{ip}/128"),
        };
        Err(Blocked { ip, kind, hint })
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return v4_kind(v4);
            }
            let seg = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("a unique-local address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if seg[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
        Some("a cloud metadata address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("a carrier-grade NAT address")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if is_reserved_v4(o) {
        Some("a reserved address")
    } else {
        None
    }
}

/// "This network", the future-use block, broadcast, the documentation and benchmarking blocks.
fn is_reserved_v4(o: [u8; 4]) -> bool {
    o[0] == 0
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible or NAT64
/// (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let tail = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    let mapped = seg[..5].iter().all(|s| *s == 0) && seg[5] == 0xffff;
    let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0);
    let compatible = seg[..6].iter().all(|s| *s == 0) && !ip.is_loopback() && !ip.is_unspecified();
    (mapped || nat64 || compatible).then_some(tail)
}

/// A resolver for the HTTP client that only hands out addresses the policy allows.
pub struct GuardedResolver {
    pub policy: Arc<TargetPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match refusal {
                    Some(blocked) => format!("{host} resolves to {blocked}").into(),
                    None => format!("{host} did not resolve to any address").into(),
                };
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        });
        fut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let policy = TargetPolicy::default();
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(policy.check(ip(addr)).is_err(), "{addr} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let policy = TargetPolicy::default();
        for addr in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(policy.check(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn an_allowed_network_opens_only_itself() {
        let policy = TargetPolicy {
            allowed: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(policy.check(ip("10.0.0.1")).is_err());
    }

    #[test]
    fn the_refusal_says_how_to_allow_it() {
        let err = TargetPolicy::default().check(ip("127.0.0.1")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("loopback") && text.contains("HOOKRELAY_ALLOWED_TARGET_NETWORKS"));
        assert!(text.contains("127.0.0.0/8"), "{text}");
    }
}
