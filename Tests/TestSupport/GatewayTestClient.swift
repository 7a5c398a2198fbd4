import Contracts
import Foundation
import HTTP

/// What end-to-end test platforms do the same way through the gateway: sign in, and make a user of a
/// unit with one role and sign in as it.
public protocol GatewayTestClient {
    /// `method path` through the gateway, with `token` as the bearer and `json` as the body.
    func call(_ method: String, _ path: String, token: String?, json: String?) throws -> HTTPClientResponse
}

/// A step of a test platform answered otherwise than it must (the test fails with it).
public struct UnexpectedAnswer: Error, CustomStringConvertible {
    public let description: String
}

extension GatewayTestClient {
    /// Signs in; the session token.
    public func login(_ username: String, _ password: String) throws -> String {
        let r = try call("POST", "/api/v1/auth/login", token: nil, json: #"{"username":"\#(username)","password":"\#(password)"}"#)
        guard r.status == 200, let token = try r.decode(JSONValue.self)["token"]?.stringValue else {
            throw UnexpectedAnswer(description: "login of \(username): \(r.status) \(r.bodyText)")
        }
        return token
    }

    /// Creates user `name` (password `password-<name>`) in unit `org` with `role` and signs in as it.
    public func user(_ admin: String, _ name: String, org: String, role: String) throws -> String {
        let r = try call("POST", "/api/v1/users", token: admin,
                         json: #"{"username":"\#(name)","password":"password-\#(name)","orgId":"\#(org)","roles":["\#(role)"]}"#)
        guard r.status == 201 else { throw UnexpectedAnswer(description: "creating user \(name): \(r.status) \(r.bodyText)") }
        return try login(name, "password-\(name)")
    }
}
