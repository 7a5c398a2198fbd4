// A small service on ServiceKit, started as a real process by the ServiceKit tests: settings from the
// environment, migrations, internal auth, a slow route for graceful-shutdown tests, a database route.
import Contracts
import Foundation
import HTTP
import Postgres
import ServiceKit

struct Note: Codable, Sendable { var text: String }

let settings = loadConfigurationOrExit(service: "fixture") { config in
    try ServiceSettings(service: "fixture", config: config, defaultPort: 0)
}
let migrations = [
    Migration(version: 1, name: "create_notes", sql: "CREATE TABLE notes (id bigserial PRIMARY KEY, text text NOT NULL)"),
]
let service: Service
do {
    service = try Service(name: "fixture", settings: settings, migrations: migrations)
} catch {
    FileHandle.standardError.write(Data("fixture: \(error)\n".utf8))
    exit(1)
}
let database = service.database
service.router.get("/slow") { request, _ in
    Thread.sleep(forTimeInterval: Double(request.queryParameters["s"] ?? "1") ?? 1)
    return .text("done")
}
service.router.post("/notes") { request, _ in
    let note = try request.decode(Note.self)
    guard !note.text.isEmpty else { throw APIError.badRequest("text must not be empty", field: "text") }
    let id = try database.query("INSERT INTO notes (text) VALUES ($1) RETURNING id", note.text).first!.decode("id", as: Int.self)
    return try .json(["id": id], status: 201)
}
service.router.get("/whoami") { _, context in try .json(try context.requireIdentity()) }
// The same, at a public path, so gateway end-to-end tests can reach this fixture as the "profile" service.
service.router.get("/api/v1/customers/whoami") { _, context in try .json(try context.requireIdentity()) }
service.router.post("/api/v1/customers/notes") { request, context in
    let caller = try context.requireIdentity()
    let note = try request.decode(Note.self)
    let id = try database.query("INSERT INTO notes (text) VALUES ($1) RETURNING id", caller.userId + ": " + note.text)
        .first!.decode("id", as: Int.self)
    return try .json(["id": id], status: 201)
}
service.runUntilTerminated()
