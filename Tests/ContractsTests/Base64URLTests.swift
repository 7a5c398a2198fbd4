import Foundation
import XCTest
@testable import Contracts

/// `Base64URL`: RFC 4648 §5 vectors, round trips of every length, and strict refusal of anything
/// `encode` would not produce.
final class Base64URLTests: XCTestCase {
    func testRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64URL.encode(Array(plain.utf8)), encoded, plain)
            XCTAssertEqual(Base64URL.decode(encoded), Array(plain.utf8), encoded)
        }
    }

    func testUsesTheURLAlphabetWithoutPadding() {
        // 0xFB 0xFF encodes to `+/8=` in standard base64.
        XCTAssertEqual(Base64URL.encode([0xFB, 0xFF]), "-_8")
        XCTAssertEqual(Base64URL.decode("-_8"), [0xFB, 0xFF])
        XCTAssertEqual(Base64URL.encode([0xFF, 0xFF, 0xFF]), "____")
    }

    func testRoundTripsEveryLengthAndByteValue() {
        let all = (0...255).map { UInt8($0) }
        for length in 0...64 {
            let bytes = (0..<length).map { all[($0 * 37 + length) % 256] }
            let text = Base64URL.encode(bytes)
            XCTAssertFalse(text.contains("="), "\(length)")
            XCTAssertEqual(text.utf8.count, (length * 4 + 2) / 3, "\(length)")
            XCTAssertEqual(Base64URL.decode(text), bytes, "\(length)")
        }
        XCTAssertEqual(Base64URL.decode(Base64URL.encode(all)), all)
        // Agrees with Foundation's standard base64 after the alphabet swap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let bytes = (0..<Int(generator.next(upperBound: UInt32(40)))).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            XCTAssertEqual(Base64URL.encode(bytes), foundation)
        }
    }

    func testRejectsPadding() {
        for text in ["Zg==", "Zm8=", "Zg=", "Zm9v====", "=", "===="] {
            XCTAssertNil(Base64URL.decode(text), text)
        }
    }

    func testRejectsCharactersOutsideTheURLAlphabet() {
        for text in ["+_8", "-/8", "Zm9v Yg", " Zm9v", "Zm9v\n", "Zm9\u{0}", "Zm9é", "Zm.v", "Zm9v*"] {
            XCTAssertNil(Base64URL.decode(text), text)
        }
    }

    func testRejectsImpossibleLengthsAndNonZeroTrailingBits() {
        // 4n + 1 characters cannot end a byte.
        for text in ["Z", "Zm9vY", "Zm9vYmFyZ"] { XCTAssertNil(Base64URL.decode(text), text) }
        // `Zg` is "f"; `Zh`…`Zv` carry bits beyond the byte and are not canonical.
        XCTAssertNil(Base64URL.decode("Zh"))
        XCTAssertNil(Base64URL.decode("Zv"))
        // `Zm8` is "fo"; `Zm9` sets one of the two spare bits.
        XCTAssertNil(Base64URL.decode("Zm9"))
        XCTAssertNil(Base64URL.decode("Zm_"))
    }
}
