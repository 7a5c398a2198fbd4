import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

/// `GET /t/{code}`: a tracked short link of a message. Counts the click, records `message_clicked` in
/// the profile, and redirects (302). The redirect never waits on a failing profile: the click is then
/// logged and counted here.
public enum LinkRoutes {
    static func register(on router: Router, database: PostgresPool, profile: ProfileClient, logger: Logger, facts: MessageFacts) {
        router.get("/t/{code}") { _, context in
            let code = try context.parameters.require("code")
            guard (10...32).contains(code.utf8.count), code.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }),
                  let row = try database.transaction({ conn -> PostgresRow? in
                      guard let link = try conn.query("""
                          UPDATE links SET clicks = clicks + 1 WHERE code = $1 RETURNING message_id, customer_id, url
                          """, code).first else { return nil }
                      // Analytics counts clicked messages: later clicks of the same message carry the same fact id.
                      let subjects = try conn.query("SELECT \(MessageFacts.Subject.returning) FROM messages WHERE id = $1",
                                                    try link.decode("message_id", as: String.self))
                      try facts.record(.messageClicked, try subjects.map { (try MessageFacts.Subject(row: $0), reason: String?.none) }, on: conn)
                      return link
                  }) else {
                throw APIError.notFound("no such link", code: "link_not_found")
            }
            let url: String = try row.decode("url"), messageId: String = try row.decode("message_id")
            let customerId: String = try row.decode("customer_id")
            do {
                if let contact = try profile.contacts([customerId])[customerId], contact.exists {
                    try profile.clicked(contact, messageId: messageId, url: url, code: code, at: Date())
                }
            } catch {
                logger.warning("click not recorded in the profile", ["code": .string(code), "error": .string("\(error)")])
            }
            var headers = HTTPHeaders()
            headers.set("location", url)
            headers.set("cache-control", "no-store")
            return Response(status: 302, headers: headers)
        }
    }
}
