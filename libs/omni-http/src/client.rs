//! Who is on the other end of a request, for limits per client (wrong pickup codes).

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The address of the client that sent `req`: the peer's, unless the peer is one of the `trusted` proxies
/// (`http.trusted_proxies`); then the right-most address in `X-Forwarded-For` that is not a trusted proxy
/// itself (what a client writes further left cannot be trusted). `None` only when the peer is unknown.
pub fn address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// The client's address as text for counting and audit entries (see [`address`]); `unknown` when the peer is.
pub fn address_or_unknown(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    address(req, trusted).map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy = ip("10.0.0.7");
        let from = |peer: &str, header: &str| {
            TestRequest::default()
                .peer_addr(format!("{peer}:4000").parse().unwrap())
                .insert_header(("X-Forwarded-For", header))
                .to_http_request()
        };
        // A client cannot choose its address by sending the header itself.
        assert_eq!(
            address(&from("203.0.113.9", "198.51.100.1"), &[proxy]),
            Some(ip("203.0.113.9"))
        );
        // Behind the proxy: the address the proxy saw, not what the client wrote before it.
        assert_eq!(
            address(&from("10.0.0.7", "198.51.100.1, 203.0.113.9"), &[proxy]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            address(&from("10.0.0.7", "not an address"), &[proxy]),
            Some(proxy)
        );
    }
}
