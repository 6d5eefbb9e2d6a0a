//! Relay addresses: where a mailbox lives and which TLS certificate to trust.
//!
//! A relay is identified by host, port and the SHA-256 of its TLS certificate
//! (DER). The pin travels inside every address so clients need no CA and a
//! relay can never be silently swapped (the lesson of simplexmq#536).
//!
//! Text form: `wss://HOST:PORT/#PIN` where `PIN` is the unpadded base64url of
//! the 32-byte pin, or `ws://HOST:PORT/` for a loopback development relay
//! without TLS. IPv6 hosts are written in brackets in the text form (and only
//! they are), and stored without brackets, exactly as written, in the binary
//! form (PROTOCOL.md §6).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::wire::{DecodeError, Reader, Writer};

/// Longest host name accepted (DNS limit).
pub const MAX_HOST_LEN: usize = 253;

/// How a client must connect to a relay.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TLS, accepting only the certificate whose DER SHA-256 equals the pin.
    Tls {
        /// SHA-256 of the relay certificate's DER bytes.
        pin: [u8; 32],
    },
    /// No TLS: only for loopback development relays started with `--insecure-plaintext`.
    Plaintext,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Tls { pin } => write!(f, "Tls({})", URL_SAFE_NO_PAD.encode(pin)),
            Transport::Plaintext => f.write_str("Plaintext"),
        }
    }
}

/// A relay's reachable address plus its certificate pin.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RelayAddress {
    host: String,
    port: u16,
    transport: Transport,
}

/// A plain `ws://` address whose host is not this machine: never dialled,
/// never stored, never put in an invite.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "plain ws:// to {relay} is refused: only relays on this machine may be reached without \
     TLS; use the relay's wss:// address with its #PIN"
)]
pub struct PlaintextRefused {
    /// The refused address, as text.
    pub relay: String,
}

/// SHA-256 of a certificate's DER bytes: the pin a `wss://` address carries.
pub fn pin_of(certificate_der: &[u8]) -> [u8; 32] {
    Sha256::digest(certificate_der).into()
}

/// True for hosts that can only mean this machine: `localhost` (any case),
/// 127.0.0.0/8, `::1` and their IPv4-mapped forms. Other names are not
/// resolved here: a DNS name is never "loopback" for this check.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Why a relay host is not on the public internet: the address ranges a
/// client refuses in a relay address someone else named (PROTOCOL.md §6),
/// unless its user allowed private relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonPublicHost {
    /// This machine: `localhost`, 127.0.0.0/8, `::1`.
    Loopback,
    /// A private network: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, and the
    /// deprecated IPv6 site-local fec0::/10.
    Private,
    /// Carrier-grade NAT space, 100.64.0.0/10 (RFC 6598).
    SharedAddressSpace,
    /// The local link: 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// IPv6 unique local addresses, fc00::/7.
    UniqueLocal,
    /// "This network" or no address: 0.0.0.0/8, `::`.
    Unspecified,
    /// Multicast: 224.0.0.0/4, ff00::/8.
    Multicast,
    /// Broadcast: 255.255.255.255.
    Broadcast,
    /// Documentation examples: 192.0.2.0/24, 198.51.100.0/24,
    /// 203.0.113.0/24, 2001:db8::/32.
    Documentation,
    /// Other special-purpose IPv4 space: 192.0.0.0/24, benchmarking
    /// 198.18.0.0/15, and the reserved 240.0.0.0/4.
    Reserved,
}

impl fmt::Display for NonPublicHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Loopback => "this machine (loopback)",
            Self::Private => "a private network",
            Self::SharedAddressSpace => "carrier-grade NAT space (100.64.0.0/10)",
            Self::LinkLocal => "the local link (link-local)",
            Self::UniqueLocal => "a private IPv6 network (unique local, fc00::/7)",
            Self::Unspecified => "no particular host (unspecified address)",
            Self::Multicast => "a multicast group",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "an address reserved for documentation",
            Self::Reserved => "special-purpose address space",
        })
    }
}

/// Where `host` is if it is not on the public internet: `localhost` (any
/// case) and IP literals in the ranges of [`NonPublicHost`]
/// (IPv4-mapped and NAT64 `64:ff9b::/96` addresses by their IPv4 part).
/// `None` for public IP literals and for every other DNS name, which is not
/// resolved here.
pub fn non_public_host(host: &str) -> Option<NonPublicHost> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(NonPublicHost::Loopback);
    }
    match host.parse::<IpAddr>().ok()?.to_canonical() {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<NonPublicHost> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        NonPublicHost::Loopback
    } else if ip.is_private() {
        NonPublicHost::Private
    } else if a == 100 && (64..128).contains(&b) {
        NonPublicHost::SharedAddressSpace
    } else if ip.is_link_local() {
        NonPublicHost::LinkLocal
    } else if a == 0 {
        NonPublicHost::Unspecified
    } else if ip.is_multicast() {
        NonPublicHost::Multicast
    } else if ip.is_broadcast() {
        NonPublicHost::Broadcast
    } else if ip.is_documentation() {
        NonPublicHost::Documentation
    } else if (a, b, c) == (192, 0, 0) || (a == 198 && (18..20).contains(&b)) || a >= 240 {
        NonPublicHost::Reserved
    } else {
        return None;
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublicHost> {
    let seg = ip.segments();
    Some(if ip.is_loopback() {
        NonPublicHost::Loopback
    } else if ip.is_unspecified() {
        NonPublicHost::Unspecified
    } else if ip.is_unique_local() {
        NonPublicHost::UniqueLocal
    } else if ip.is_unicast_link_local() {
        NonPublicHost::LinkLocal
    } else if seg[0] & 0xffc0 == 0xfec0 {
        NonPublicHost::Private
    } else if ip.is_multicast() {
        NonPublicHost::Multicast
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        NonPublicHost::Documentation
    } else if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = ip.octets();
        return non_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    } else {
        return None;
    })
}

/// Why a relay address string or encoding was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Neither `wss://` nor `ws://`.
    #[error("relay address must start with wss:// or ws://")]
    Scheme,
    /// Host empty, too long or containing characters a host name cannot have.
    #[error("invalid relay host")]
    Host,
    /// Port missing, zero or not a number.
    #[error("invalid or missing relay port")]
    Port,
    /// A `wss://` address without a valid 32-byte base64url pin after `#`.
    #[error("wss:// relay address needs #PIN: the base64url SHA-256 of the relay certificate")]
    Pin,
    /// Anything after the port other than `/` and the pin.
    #[error("unexpected path or query in relay address")]
    Path,
    /// Binary form was malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl RelayAddress {
    /// Builds an address; fails if the host is not a plausible DNS name or IP literal.
    pub fn new(host: &str, port: u16, transport: Transport) -> Result<Self, AddressError> {
        if !valid_host(host) {
            return Err(AddressError::Host);
        }
        if port == 0 {
            return Err(AddressError::Port);
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            transport,
        })
    }

    /// Host name or IP literal (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// TLS pin or plaintext.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The pin, if this is a TLS address.
    pub fn pin(&self) -> Option<[u8; 32]> {
        match self.transport {
            Transport::Tls { pin } => Some(pin),
            Transport::Plaintext => None,
        }
    }

    /// True if the host can only mean this machine (see [`is_loopback_host`]).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// Where the host is if it is not on the public internet (see
    /// [`non_public_host`]): the predicate of the private-relay rule
    /// (PROTOCOL.md §6), which clients apply to addresses others name.
    pub fn non_public(&self) -> Option<NonPublicHost> {
        non_public_host(&self.host)
    }

    /// The one plaintext rule (PROTOCOL.md §6): TLS addresses pass; a plain
    /// `ws://` address passes only when its host is loopback. Clients apply it
    /// before dialling, before storing an address and to every address an
    /// invite or handshake names.
    pub fn check_transport(&self) -> Result<(), PlaintextRefused> {
        match self.transport {
            Transport::Tls { .. } => Ok(()),
            Transport::Plaintext if self.is_loopback() => Ok(()),
            Transport::Plaintext => Err(PlaintextRefused {
                relay: self.to_string(),
            }),
        }
    }

    /// The WebSocket URL to dial (`wss://host:port/` or `ws://host:port/`).
    pub fn websocket_url(&self) -> String {
        let scheme = match self.transport {
            Transport::Tls { .. } => "wss",
            Transport::Plaintext => "ws",
        };
        format!("{scheme}://{}:{}/", self.bracketed_host(), self.port)
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Binary form used inside invites (see PROTOCOL.md, "Relay address").
    pub fn encode(&self, w: &mut Writer) {
        match self.transport {
            Transport::Tls { pin } => {
                w.u8(1)
                    .bytes_u8(self.host.as_bytes())
                    .u16(self.port)
                    .put(&pin);
            }
            Transport::Plaintext => {
                w.u8(0).bytes_u8(self.host.as_bytes()).u16(self.port);
            }
        }
    }

    /// Reads the binary form written by [`RelayAddress::encode`].
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, AddressError> {
        let kind = r.u8()?;
        let host = r.str_u8("relay host", MAX_HOST_LEN)?;
        let port = r.u16()?;
        let transport = match kind {
            1 => Transport::Tls { pin: r.array()? },
            0 => Transport::Plaintext,
            value => {
                return Err(DecodeError::UnknownTag {
                    field: "relay transport",
                    value,
                }
                .into());
            }
        };
        Self::new(host, port, transport)
    }
}

fn valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return false;
    }
    if host.contains(':') {
        return host.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

impl fmt::Display for RelayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.websocket_url())?;
        if let Transport::Tls { pin } = self.transport {
            write!(f, "#{}", URL_SAFE_NO_PAD.encode(pin))?;
        }
        Ok(())
    }
}

impl fmt::Debug for RelayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayAddress({self})")
    }
}

impl FromStr for RelayAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (tls, rest) = if let Some(rest) = s.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = s.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(AddressError::Scheme);
        };
        let (authority_path, fragment) = match rest.split_once('#') {
            Some((a, f)) => (a, Some(f)),
            None => (rest, None),
        };
        let authority = match authority_path.split_once('/') {
            Some((a, "")) => a,
            Some(_) => return Err(AddressError::Path),
            None => authority_path,
        };
        // Brackets if and only if the host is an IPv6 literal: `ws://::1:7447/` is refused
        // rather than guessed at (is `::1:7447` an address or `::1` with a port?).
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (h, p) = inner.split_once("]:").ok_or(AddressError::Port)?;
            if !h.contains(':') {
                return Err(AddressError::Host);
            }
            (h, p)
        } else {
            let (h, p) = authority.rsplit_once(':').ok_or(AddressError::Port)?;
            if h.contains(':') {
                return Err(AddressError::Host);
            }
            (h, p)
        };
        let port: u16 = port.parse().map_err(|_| AddressError::Port)?;
        let transport = if tls {
            let pin = fragment.ok_or(AddressError::Pin)?;
            let pin = URL_SAFE_NO_PAD.decode(pin).map_err(|_| AddressError::Pin)?;
            let pin: [u8; 32] = pin.try_into().map_err(|_| AddressError::Pin)?;
            Transport::Tls { pin }
        } else {
            if fragment.is_some() {
                return Err(AddressError::Path);
            }
            Transport::Plaintext
        };
        Self::new(host, port, transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let a =
            RelayAddress::new("relay.example.org", 7447, Transport::Tls { pin: [7; 32] }).unwrap();
        let s = a.to_string();
        assert_eq!(
            s,
            "wss://relay.example.org:7447/#BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
        );
        assert_eq!(s.parse::<RelayAddress>().unwrap(), a);
        let v6 = RelayAddress::new("::1", 9, Transport::Plaintext).unwrap();
        assert_eq!(v6.to_string(), "ws://[::1]:9/");
        assert_eq!("ws://[::1]:9".parse::<RelayAddress>().unwrap(), v6);
        assert_eq!(v6.host(), "::1");
    }

    #[test]
    fn brackets_only_and_always_around_ipv6() {
        for text in [
            "ws://::1:7447/",
            "ws://2001:db8::7:443/",
            "ws://[localhost]:7447/",
        ] {
            assert_eq!(
                text.parse::<RelayAddress>(),
                Err(AddressError::Host),
                "{text}"
            );
        }
        // The binary form never carries the brackets.
        let mut w = Writer::default();
        w.u8(0).bytes_u8(b"[::1]").u16(7447);
        let bytes = w.into_vec();
        assert_eq!(
            RelayAddress::decode(&mut Reader::new(&bytes)),
            Err(AddressError::Host)
        );
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(
            "http://a:1/".parse::<RelayAddress>(),
            Err(AddressError::Scheme)
        );
        assert_eq!("wss://a:1/".parse::<RelayAddress>(), Err(AddressError::Pin));
        assert_eq!(
            "wss://a:1/#AAAA".parse::<RelayAddress>(),
            Err(AddressError::Pin)
        );
        assert_eq!("ws://a/".parse::<RelayAddress>(), Err(AddressError::Port));
        assert_eq!("ws://a:0/".parse::<RelayAddress>(), Err(AddressError::Port));
        assert_eq!(
            "ws://a b:1/".parse::<RelayAddress>(),
            Err(AddressError::Host)
        );
        assert_eq!(
            "ws://a:1/x".parse::<RelayAddress>(),
            Err(AddressError::Path)
        );
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.2",
            "::ffff:10.0.0.1",
            "fe80::1",
            "localhost.example.org",
            "mylocalhost",
            "127.0.0.1.nip.io",
            "127.1",
            "example.org",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plaintext_refused_off_loopback_tls_always_allowed() {
        let ok = |t: &str| t.parse::<RelayAddress>().unwrap().check_transport();
        ok("ws://127.0.0.1:7447/").unwrap();
        ok("ws://[::1]:7447/").unwrap();
        ok("ws://localhost:7447/").unwrap();
        let pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        ok(&format!("wss://relay.example.org:7447/#{pin}")).unwrap();
        for text in [
            "ws://relay.example.org:7447/",
            "ws://10.1.2.3:7447/",
            "ws://0.0.0.0:7447/",
            "ws://[2001:db8::1]:7447/",
        ] {
            let err = ok(text).unwrap_err();
            assert_eq!(err.relay, text);
            assert!(err.to_string().contains("wss://"), "{err}");
        }
    }

    #[test]
    fn non_public_hosts_are_classified_and_public_ones_are_not() {
        use NonPublicHost::*;
        for (host, kind) in [
            ("localhost", Loopback),
            ("127.0.0.1", Loopback),
            ("127.9.9.9", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.5", Private),
            ("::ffff:192.168.1.5", Private),
            ("fec0::1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.1.1.1", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("2001:db8::1", Documentation),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("240.0.0.1", Reserved),
            ("64:ff9b::10.0.0.1", Private),
        ] {
            assert_eq!(non_public_host(host), Some(kind), "{host}");
            let a = RelayAddress::new(host, 7447, Transport::Tls { pin: [0; 32] }).unwrap();
            assert_eq!(a.non_public(), Some(kind), "{host}");
        }
        for host in [
            "relay.example.org",
            "localhost.example.org",
            "192.168.1.5.nip.io",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(non_public_host(host), None, "{host}");
        }
    }

    #[test]
    fn pin_is_sha256_of_the_der() {
        assert_eq!(
            hex_lower(&pin_of(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn hex_lower(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn binary_round_trip() {
        for a in [
            RelayAddress::new("10.0.0.1", 1, Transport::Tls { pin: [1; 32] }).unwrap(),
            RelayAddress::new("localhost", 65535, Transport::Plaintext).unwrap(),
        ] {
            let mut w = Writer::default();
            a.encode(&mut w);
            let bytes = w.into_vec();
            let mut r = Reader::new(&bytes);
            assert_eq!(RelayAddress::decode(&mut r).unwrap(), a);
            r.finish().unwrap();
        }
    }
}
