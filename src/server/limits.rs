//! `ConnectionLimits`: how many connections are open, in total and per client address.
//!
//! A connection holds a [`Permit`] from its accept until its socket is dropped: for a WebSocket
//! that is when the socket closes, so upgraded connections count like any other (they hold a
//! file too). Admission is one step under the map's shard lock, so two accepts cannot both take
//! the last place.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `MAX_CONNECTIONS` are open.
    Total,
    /// `MAX_CONNECTIONS_PER_IP` are open from this client's address.
    PerIp,
}

/// The open-connection counters of one server. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_ip: Arc<DashMap<IpAddr, usize>>,
    max_per_ip: usize,
}

/// One admitted connection's place; frees it on drop.
pub struct Permit {
    _total: OwnedSemaphorePermit,
    per_ip: Option<(Arc<DashMap<IpAddr, usize>>, IpAddr)>,
}

impl ConnectionLimits {
    /// At most `max_total` connections, and `max_per_ip` from one address (0 = no such cap).
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        ConnectionLimits {
            total: Arc::new(Semaphore::new(max_total.min(Semaphore::MAX_PERMITS))),
            per_ip: Arc::new(DashMap::new()),
            max_per_ip,
        }
    }

    /// A place for a connection from `peer`, or why there is none. Never waits.
    pub fn admit(&self, peer: IpAddr) -> Result<Permit, Refused> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Total)?;
        if self.max_per_ip == 0 {
            return Ok(Permit {
                _total: total,
                per_ip: None,
            });
        }
        let key = client_key(peer);
        {
            let mut open = self.per_ip.entry(key).or_insert(0);
            if *open >= self.max_per_ip {
                return Err(Refused::PerIp);
            }
            *open += 1;
        }
        Ok(Permit {
            _total: total,
            per_ip: Some((self.per_ip.clone(), key)),
        })
    }

    /// Addresses that hold at least one connection (0 once all have closed: no entry leaks).
    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.per_ip.len()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((map, key)) = self.per_ip.take() {
            // The entry goes with its last connection, so the map holds only addresses that
            // have a connection open now.
            map.remove_if_mut(&key, |_, open| {
                *open -= 1;
                *open == 0
            });
        }
    }
}

/// The address a per-IP cap counts: IPv4 (also when mapped into IPv6) as is, IPv6 by its /64,
/// since one host is commonly given a whole /64 and could otherwise pick a fresh address per
/// connection.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_per_ip_cap_counts_each_address_apart() {
        let limits = ConnectionLimits::new(10, 2);
        let a1 = limits.admit(ip("10.0.0.1")).unwrap();
        let _a2 = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).err(), Some(Refused::PerIp));
        let _b = limits.admit(ip("10.0.0.2")).unwrap();
        drop(a1);
        let _a3 = limits.admit(ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn the_total_cap_counts_every_address() {
        let limits = ConnectionLimits::new(2, 0);
        let a = limits.admit(ip("10.0.0.1")).unwrap();
        let _b = limits.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.3")).err(), Some(Refused::Total));
        drop(a);
        let _c = limits.admit(ip("10.0.0.3")).unwrap();
    }

    #[test]
    fn a_refusal_by_address_gives_back_its_total_place() {
        let limits = ConnectionLimits::new(2, 1);
        let _a = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).err(), Some(Refused::PerIp));
        let _b = limits.admit(ip("10.0.0.2")).unwrap();
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let limits = ConnectionLimits::new(10, 1);
        let _a = limits.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            limits.admit(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Refused::PerIp)
        );
        let _b = limits.admit(ip("2001:db8:1:3::1")).unwrap();
        let _c = limits.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            limits.admit(ip("::ffff:192.0.2.7")).err(),
            Some(Refused::PerIp)
        );
    }

    #[test]
    fn entries_go_with_their_last_connection() {
        let limits = ConnectionLimits::new(10, 5);
        let held: Vec<_> = (0..3)
            .map(|_| limits.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(limits.addresses(), 1);
        drop(held);
        assert_eq!(limits.addresses(), 0);
    }
}
