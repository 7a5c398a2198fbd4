import XCTest
@testable import Postgres

final class ConfigurationTests: XCTestCase {
    func testFullURLWithPercentEncodingAndOptions() throws {
        let config = try PostgresConfiguration(url:
            "postgres://us%40er:p%3Ass%2Fw%20rd@db.example.com:6543/my%20db?pool_size=7&acquire_timeout=1.5"
            + "&connect_timeout=3&statement_timeout=2500&application_name=orders%2Dsvc&search_path=orders,public&sslmode=require")
        XCTAssertEqual(config.user, "us@er")
        XCTAssertEqual(config.password, "p:ss/w rd")
        XCTAssertEqual(config.host, "db.example.com")
        XCTAssertEqual(config.port, 6543)
        XCTAssertEqual(config.database, "my db")
        XCTAssertEqual(config.poolSize, 7)
        XCTAssertEqual(config.acquireTimeout, 1.5)
        XCTAssertEqual(config.connectTimeout, 3)
        XCTAssertEqual(config.statementTimeout, 2.5)
        XCTAssertEqual(config.applicationName, "orders-svc")
        XCTAssertEqual(config.searchPath, ["orders", "public"])
        XCTAssertEqual(config.libpqOptions, ["sslmode": "require"])
        XCTAssertFalse(config.description.contains("p:ss"), "the password must not appear in logs")
    }

    func testDefaultsIPv6AndSocketDirectory() throws {
        let minimal = try PostgresConfiguration(url: "postgresql://localhost/app")
        XCTAssertEqual(minimal.port, 5432)
        XCTAssertNil(minimal.user)
        XCTAssertEqual(minimal.database, "app")
        XCTAssertEqual(minimal.poolSize, 10)

        let v6 = try PostgresConfiguration(url: "postgres://u@[::1]:5433/db")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 5433)

        let socket = try PostgresConfiguration(url: "postgres://u@%2Fvar%2Frun%2Fpostgresql/db")
        XCTAssertEqual(socket.host, "/var/run/postgresql")

        let at = try PostgresConfiguration(url: "postgres://u:p@ss@h/db")  // unencoded '@' in the password
        XCTAssertEqual(at.password, "p@ss")
        XCTAssertEqual(at.host, "h")

        let zeroTimeout = try PostgresConfiguration(url: "postgres://h/db?statement_timeout=0")
        XCTAssertNil(zeroTimeout.statementTimeout)
    }

    func testMalformedURLsNameTheProblem() {
        func error(_ url: String) -> PostgresConfigurationError? {
            do {
                _ = try PostgresConfiguration(url: url)
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(error("mysql://h/db"), .unsupportedScheme("mysql"))
        XCTAssertEqual(error("h:5432/db"), .malformedURL("missing scheme: expected postgres://user:password@host:port/database"))
        XCTAssertEqual(error("postgres://h:abc/db"), .invalidPort("abc"))
        XCTAssertEqual(error("postgres://h:70000/db"), .invalidPort("70000"))
        XCTAssertEqual(error("postgres://h:/db"), .invalidPort(""))
        XCTAssertEqual(error("postgres://u:%zz@h/db"), .invalidPercentEncoding(component: "password"))
        XCTAssertEqual(error("postgres://u%@h/db"), .invalidPercentEncoding(component: "user"))
        XCTAssertEqual(error("postgres://h/d%00b"), .invalidPercentEncoding(component: "database"))
        XCTAssertEqual(error("postgres://h/db?bogus=1"), .unknownOption("bogus"))
        XCTAssertEqual(error("postgres://h/db?pool_size=1&pool_size=2"), .duplicateOption("pool_size"))
        XCTAssertEqual(error("postgres://h/db?pool_size"), .malformedURL("query option 'pool_size' has no '=value'"))
        XCTAssertEqual(error("postgres://h/a/b"), .malformedURL("the database name contains '/'"))
        XCTAssertEqual(error("postgres://h1,h2/db"), .malformedURL("multiple hosts are not supported"))
        XCTAssertEqual(error("postgres://[::1/db"), .malformedURL("unterminated '[' in IPv6 host"))
        XCTAssertEqual(error("postgres://h /db"), .malformedURL("the URL contains whitespace"))
        if case .invalidOptionValue(let name, let value, _)? = error("postgres://h/db?pool_size=0") {
            XCTAssertEqual(name, "pool_size")
            XCTAssertEqual(value, "0")
        } else {
            XCTFail("pool_size=0 must be refused")
        }
        if case .invalidOptionValue(let name, _, _)? = error("postgres://h/db?search_path=a;drop") {
            XCTAssertEqual(name, "search_path")
        } else {
            XCTFail("an unsafe schema name must be refused")
        }
        if case .invalidOptionValue(let name, _, _)? = error("postgres://h/db?acquire_timeout=-1") {
            XCTAssertEqual(name, "acquire_timeout")
        } else {
            XCTFail("a negative timeout must be refused")
        }
        XCTAssertTrue(PostgresConfigurationError.invalidPort("x").description.contains("DATABASE_URL"))
    }

    func testIdentifierValidation() {
        XCTAssertTrue(PostgresIdentifier.isValid("orders_v2"))
        XCTAssertFalse(PostgresIdentifier.isValid("2orders"))
        XCTAssertFalse(PostgresIdentifier.isValid("a\"b"))
        XCTAssertFalse(PostgresIdentifier.isValid(""))
        XCTAssertFalse(PostgresIdentifier.isValid(String(repeating: "a", count: 64)))
        XCTAssertEqual(try PostgresIdentifier.quoted("Orders"), "\"Orders\"")
        XCTAssertThrowsError(try PostgresIdentifier.quoted("x; DROP TABLE y"))
    }
}
