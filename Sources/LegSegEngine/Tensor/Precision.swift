/// The number format a network computes in. Accumulation is always f32; `bf16` stores activations and weights
/// as bfloat16 (on CPUs without native bf16 support a backend may emulate it by rounding f32 values).
public enum Precision: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case f32
    case bf16
    public var description: String { rawValue }
}

/// Conversions between f32 and the 16-bit formats used in weight files and bf16 compute.
public enum HalfFloat {
    /// f32 → bf16 bits, round to nearest even (NaN stays NaN).
    @inlinable public static func bf16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// bf16 bits → f32 (exact).
    @inlinable public static func float(bf16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The value nearest to `value` that bf16 can represent.
    @inlinable public static func roundedToBF16(_ value: Float) -> Float {
        float(bf16: bf16Bits(value))
    }

    /// IEEE half bits → f32 (exact, subnormals included).
    public static func float(f16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// f32 → IEEE half bits, round to nearest even; overflow becomes infinity.
    public static func f16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if value.isNaN { return sign | 0x7E00 }
        let magnitude = abs(value)
        if magnitude >= 65520 { return sign | 0x7C00 }
        if magnitude < Float(sign: .plus, exponent: -14, significand: 1) {
            // Subnormal half: value / 2^-24 rounded to nearest even.
            let scaled = (magnitude * Float(sign: .plus, exponent: 24, significand: 1)).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
        var mantissa = bits & 0x7F_FFFF
        var half = UInt32(exponent) << 10 | (mantissa >> 13)
        mantissa &= 0x1FFF
        if mantissa > 0x1000 || (mantissa == 0x1000 && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
}
