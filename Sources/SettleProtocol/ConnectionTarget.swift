import GRPCNIOTransportHTTP2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The gRPC target for host:port. An IP literal is dialled as an address, not as a DNS name:
/// the transport would otherwise put it in TLS's server name indication, which may carry only
/// names (a certificate for an address is still verified against that address).
public func connectionTarget(host: String, port: Int) -> any ResolvableTarget {
    var ipv4 = in_addr()
    if inet_pton(AF_INET, host, &ipv4) == 1 { return ResolvableTargets.IPv4.ipv4(address: host, port: port) }
    var ipv6 = in6_addr()
    if inet_pton(AF_INET6, host, &ipv6) == 1 { return ResolvableTargets.IPv6.ipv6(address: host, port: port) }
    return ResolvableTargets.DNS.dns(host: host, port: port)
}
