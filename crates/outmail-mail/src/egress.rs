//! Which addresses outmail may connect to. A test send takes any host an admin types, so
//! without a policy it would be a way to probe the network outmail runs in, or to reach a
//! cloud's metadata service and its credentials.
//!
//! The policy is applied to the addresses a host name resolved to, and outmail then connects to
//! exactly those addresses (resolved once, never again for the same connection); TLS still
//! checks the certificate against the host name, so pinning the address weakens nothing.

use std::net::IpAddr;

use ipnet::IpNet;

/// Where outgoing connections may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Loopback addresses: a local MTA or relay on this machine. Allowed unless switched off.
    allow_loopback: bool,
    /// Private, shared and unique-local ranges that are allowed anyway.
    allowed: Vec<IpNet>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allow_loopback: true,
            allowed: Vec::new(),
        }
    }
}

/// Why an address is refused, in words for the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Link-local, where cloud metadata services live: never.
    LinkLocal,
    /// A known metadata or platform address outside link-local: never.
    Metadata,
    /// 0.0.0.0, multicast, broadcast: never a mail server.
    NotAHost,
    /// Loopback while the policy switches it off.
    Loopback,
    /// A private range the allowlist does not name.
    Private,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::LinkLocal => {
                "a link-local address, where cloud metadata services answer; it is always refused"
            }
            Refusal::Metadata => "a cloud metadata or platform address; it is always refused",
            Refusal::NotAHost => "not the address of a single host; it is always refused",
            Refusal::Loopback => "a loopback address, and loopback is switched off for this server",
            Refusal::Private => {
                "a private address, and the server's egress allowlist (--egress-allow) does not \
                 include it"
            }
        }
    }
}

/// Addresses of metadata and platform services that are not link-local.
const METADATA: [IpAddr; 3] = [
    // Alibaba Cloud.
    IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 200)),
    // Azure's wire server.
    IpAddr::V4(std::net::Ipv4Addr::new(168, 63, 129, 16)),
    // AWS over IPv6.
    IpAddr::V6(std::net::Ipv6Addr::new(
        0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254,
    )),
];

/// Ranges that are never public: allowed only through the allowlist.
const PRIVATE: [&str; 7] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    // Carrier-grade NAT, used inside some clouds.
    "100.64.0.0/10",
    // Benchmarking, sometimes used for internal networks.
    "198.18.0.0/15",
    // IPv6 unique-local.
    "fc00::/7",
    // IPv6 site-local (deprecated, still routed privately).
    "fec0::/10",
];

impl EgressPolicy {
    /// A policy allowing loopback when `allow_loopback`, and the private ranges in `allowed`.
    pub fn new(allow_loopback: bool, allowed: Vec<IpNet>) -> Self {
        Self {
            allow_loopback,
            allowed,
        }
    }

    /// Whether outmail may connect to `ip`, and why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        // An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is judged as IPv4.
        let ip = ip.to_canonical();
        if METADATA.contains(&ip) {
            return Err(Refusal::Metadata);
        }
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_unicast_link_local(),
        };
        if link_local {
            return Err(Refusal::LinkLocal);
        }
        let not_a_host = ip.is_unspecified()
            || ip.is_multicast()
            || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        if not_a_host {
            return Err(Refusal::NotAHost);
        }
        let allowlisted = self.allowed.iter().any(|net| net.contains(&ip));
        if ip.is_loopback() {
            return if self.allow_loopback || allowlisted {
                Ok(())
            } else {
                Err(Refusal::Loopback)
            };
        }
        let private = PRIVATE.iter().any(|range| {
            range
                .parse::<IpNet>()
                .is_ok_and(|net: IpNet| net.contains(&ip))
        });
        if private && !allowlisted {
            return Err(Refusal::Private);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_are_refused_even_when_allowlisted() {
        let everything = EgressPolicy::new(
            true,
            vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        );
        for address in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "::ffff:169.254.169.254",
            "100.100.100.200",
            "168.63.129.16",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                everything.check(ip(address)).is_err(),
                "{address} must be refused"
            );
        }
    }

    #[test]
    fn private_ranges_need_the_allowlist() {
        let default = EgressPolicy::default();
        for address in [
            "10.1.2.3",
            "172.20.0.5",
            "192.168.1.10",
            "100.64.0.1",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(
                default.check(ip(address)),
                Err(Refusal::Private),
                "{address}"
            );
        }
        let office = EgressPolicy::new(true, vec!["10.1.0.0/16".parse().unwrap()]);
        assert_eq!(office.check(ip("10.1.2.3")), Ok(()));
        assert_eq!(office.check(ip("10.2.0.1")), Err(Refusal::Private));
    }

    #[test]
    fn loopback_is_allowed_by_default_and_can_be_switched_off() {
        assert_eq!(EgressPolicy::default().check(ip("127.0.0.1")), Ok(()));
        assert_eq!(EgressPolicy::default().check(ip("::1")), Ok(()));
        let strict = EgressPolicy::new(false, vec![]);
        assert_eq!(strict.check(ip("127.0.0.1")), Err(Refusal::Loopback));
        let one = EgressPolicy::new(false, vec!["127.0.0.1/32".parse().unwrap()]);
        assert_eq!(one.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(one.check(ip("127.0.0.2")), Err(Refusal::Loopback));
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in ["192.0.2.10", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert_eq!(
                EgressPolicy::default().check(ip(address)),
                Ok(()),
                "{address}"
            );
        }
    }
}
