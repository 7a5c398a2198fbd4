import Foundation

/// Fresh random ids with a prefix (`prv_`, `msg_`, `rwd_`, …): 20 lower-case hex characters.
public enum RecordId {
    public static func make(_ prefix: String) -> String {
        prefix + randomHex(20)
    }

    /// An id whose order is its creation order (to the millisecond): 12 hex digits of the time, then 12
    /// random ones.
    public static func timeOrdered(_ prefix: String) -> String {
        let ms = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let time = String(ms, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - time.count)) + time + randomHex(12)
    }

    /// `count` random lower-case hex digits from the system's generator (ids are made on hot paths:
    /// no UUID string to build and cut).
    static func randomHex(_ count: Int) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var generator = SystemRandomNumberGenerator()
        var bits = generator.next()
        var left = 16
        return String(unsafeUninitializedCapacity: count) { buffer in
            for i in 0..<count {
                if left == 0 { bits = generator.next(); left = 16 }
                buffer[i] = digits[Int(bits & 0xf)]
                bits >>= 4
                left -= 1
            }
            return count
        }
    }

    public static func isValid(_ id: String, prefix: String) -> Bool {
        id.hasPrefix(prefix) && (prefix.utf8.count + 1...prefix.utf8.count + 60).contains(id.utf8.count)
            && id.utf8.dropFirst(prefix.utf8.count).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }
}
