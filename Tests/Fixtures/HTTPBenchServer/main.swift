// A minimal server on the HTTP library, for `scripts/bench http` and the socket tests:
// `GET /hello` (fixed text), `GET /json` (about 1 KB of JSON, encoded per request).
// Usage: HTTPBenchServer [port] [event-loops]
import Foundation
import HTTP

struct Item: Codable, Sendable {
    var id: Int
    var name: String
    var tags: [String]
    var score: Double
}

let args = CommandLine.arguments
var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: args.count > 1 ? Int(args[1]) ?? 8080 : 8080)
if args.count > 2, let loops = Int(args[2]) { configuration.eventLoops = loops }

let items = (0..<10).map { Item(id: $0, name: "customer-\($0)-张三", tags: ["payroll", "credit_card", "L\($0 % 5)"], score: Double($0) * 1.5) }
let router = Router()
router.get("/hello", options: .inline) { _, _ in .text("Hello, World!") }
router.get("/json", options: .inline) { _, _ in try .json(["items": items]) }
router.get("/blocking", options: .default) { _, _ in .text("Hello, World!") }
// The trivial upstream route that `scripts/bench gateway` reaches through the gateway and nginx.
router.get("/api/v1/segments", options: .inline) { _, _ in .text("Hello, World!") }

let server = HTTPServer(configuration: configuration, router: router)
do {
    try server.start()
} catch {
    FileHandle.standardError.write(Data("HTTPBenchServer: \(error)\n".utf8))
    exit(1)
}
FileHandle.standardOutput.write(Data("listening on \(server.port)\n".utf8))
signal(SIGTERM, SIG_IGN)
let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
term.setEventHandler {
    server.shutdown()
    exit(0)
}
term.resume()
dispatchMain()
