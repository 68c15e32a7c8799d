#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for tensor work, applied once at program start (before threads exist).
///
/// glibc serves every block above 32 MB with its own `mmap` and unmaps it on `free`, so each training step's
/// host tensors (probabilities, loss gradients, dropout masks: tens of MB each) came back as fresh pages that the
/// kernel zero-fills on first touch: about 200 000 page faults and a third of a step's time. Keeping freed memory
/// in one heap (`M_MMAP_MAX` 0, one arena, no trimming) lets the next step reuse it. Peak resident memory is
/// unchanged; memory is returned to the system at exit. A no-op where glibc is absent.
public enum HostMemoryPolicy {
    public static func retainLargeAllocations() {
        #if canImport(Glibc)
        // `mallopt` is declared in <malloc.h>, which the Glibc module does not export: look it up instead.
        // Parameter numbers from <malloc.h>: M_TRIM_THRESHOLD −1, M_MMAP_MAX −4, M_ARENA_MAX −8.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-4, 0)
        _ = mallopt(-1, Int32.max)
        _ = mallopt(-8, 1)
        #endif
    }
}
