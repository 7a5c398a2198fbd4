import Contracts
import Foundation
import Postgres

/// Random secrets and ids of the identity domain, and the one-way hash under which tokens are stored.
///
/// Every random value comes from `SystemRandomNumberGenerator` (the kernel's CSPRNG via getrandom).
enum IdentitySecrets {
    /// Prefix of a console session token.
    static let sessionPrefix = "lts_"
    /// Prefix of an API key.
    static let apiKeyPrefix = "ltk_"

    /// A new session token: `lts_` and 256 random bits, base64url without padding.
    static func newSessionToken() -> String { sessionPrefix + randomBase64URL(byteCount: 32) }

    /// A new API key: `ltk_` and 256 random bits, base64url without padding.
    static func newAPIKey() -> String { apiKeyPrefix + randomBase64URL(byteCount: 32) }

    /// The stored form of a token: SHA-256 of its UTF-8 bytes, 64 lowercase hex digits. Tokens carry
    /// 256 random bits, so a fast hash is enough (no dictionary to attack), and lookups stay indexed.
    static func tokenHash(_ token: String) -> String { SHA256.hexDigest(token) }

    /// An opaque record id such as `u_k3v9…` (16 base32 characters = 80 random bits).
    static func newId(prefix: String) -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        var out = prefix + "_"
        for _ in 0..<16 { out.append(alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))]) }
        return out
    }

    /// A password for the first admin: 20 characters from an alphabet without look-alikes (~115 bits).
    static func newPassword(length: Int = 20) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        var out = ""
        for _ in 0..<length { out.append(alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))]) }
        return out
    }

    static func randomBase64URL(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: byteCount)
        for i in bytes.indices { bytes[i] = generator.next() }
        return Base64URL.encode(bytes)
    }
}
