// libFuzzer entry for the HTTP request parser. Built by scripts/fuzz-http together with
// Shared/HTTP/Core and Shared/HTTP/Parser (not part of the SwiftPM package).
//
// Each input is treated as the byte stream of one connection: heads and bodies are parsed one after
// another the way the connection does, once whole and once split at an input-chosen point, and both
// passes must agree. Any crash, hang or disagreement is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func lattice_fuzz_http(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTPParserLimits()
    limits.maxHeaderBytes = 2048
    limits.maxRequestLineBytes = 1024
    let whole = drive(bytes, split: nil, limits: limits)
    let split = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    let pieces = drive(bytes, split: split, limits: limits)
    if whole != pieces {
        fatalError("whole and split parsing disagree: \(whole) vs \(pieces)")
    }
    return 0
}

/// Replays the connection's parse loop; returns a transcript of what it saw.
func drive(_ input: [UInt8], split: Int?, limits: HTTPParserLimits) -> [String] {
    var transcript: [String] = []
    var buffer: [UInt8] = []
    var feeds: [[UInt8]] = []
    if let s = split { feeds = [Array(input[0..<s]), Array(input[s...])] } else { feeds = [input] }

    enum Phase { case head(scan: Int), contentLength(Int, [UInt8]), chunked(ChunkedBodyDecoder, [UInt8]), failed }
    var phase = Phase.head(scan: 0)
    for feed in feeds {
        buffer += feed
        var progress = true
        while progress {
            progress = false
            switch phase {
            case .failed:
                return transcript
            case .head(let scan):
                let result = buffer.withUnsafeBufferPointer { RequestHeadParser.parse($0, scanFrom: scan, limits: limits) }
                switch result {
                case .incomplete(let next):
                    phase = .head(scan: next)
                case .failure(let e):
                    transcript.append("error \(e.status)")
                    phase = .failed
                case .complete(let head, let consumed):
                    precondition(consumed > 0 && consumed <= buffer.count)
                    buffer.removeFirst(consumed)
                    transcript.append("\(head.method) \(head.path) \(head.headers.count) \(head.framing)")
                    switch head.framing {
                    case .none: phase = .head(scan: 0)
                    case .contentLength(let n): phase = .contentLength(n, [])
                    case .chunked: phase = .chunked(ChunkedBodyDecoder(maxBodyBytes: 1 << 16, maxMetadataBytes: 512), [])
                    }
                    progress = true
                }
            case .contentLength(let remaining, var body):
                let take = min(remaining, buffer.count)
                body += buffer[0..<take]
                buffer.removeFirst(take)
                if remaining - take == 0 {
                    transcript.append("body \(body.count)")
                    phase = .head(scan: 0)
                    progress = true
                } else {
                    phase = .contentLength(remaining - take, body)
                }
            case .chunked(var decoder, var body):
                do {
                    let used = try buffer.withUnsafeBufferPointer { try decoder.decode($0, into: &body) }
                    precondition(used <= buffer.count)
                    buffer.removeFirst(used)
                    if decoder.isDone {
                        transcript.append("chunked \(body.count)")
                        phase = .head(scan: 0)
                        progress = true
                    } else {
                        phase = .chunked(decoder, body)
                    }
                } catch {
                    transcript.append("error \((error as? HTTPParseError)?.status ?? -1)")
                    phase = .failed
                }
            }
        }
    }
    return transcript
}
