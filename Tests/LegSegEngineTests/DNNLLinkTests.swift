import Testing
import LegSegDNNL

@Test func oneDNNIsLinkedAndReportsA2xVersion() {
    // The engine issue targets oneDNN's 2.x C API (Debian 12 ships 2.6.3).
    #expect(DNNLRuntime.version.hasPrefix("2."))
}
