#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An I/O failure with a one-line, human-readable description.
public struct WideNetIOError: Error, CustomStringConvertible {
    public let description: String
    public let failureClass: FailureClass
    public init(_ description: String, _ failureClass: FailureClass = .badInput) {
        self.description = description; self.failureClass = failureClass
    }
}

/// Writes data to a temporary file next to `url`, fsyncs it, then renames it over `url`,
/// so a killed process never leaves a half-written file. Throws WideNetIOError.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        // Same directory as the target, so rename(2) stays on one filesystem and is atomic.
        let suffix = String(UInt64.random(in: .min ... .max), radix: 36)
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(suffix)").path
        let target = url.path

        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw systemError("cannot create temporary file \(temp)") }
        var committed = false
        Cleanup.register(temp, .temporary)
        defer { if !committed { unlink(temp) }; Cleanup.unregister(temp) }

        var failure = writeAll(data, to: fd, path: temp)
        if failure == nil, fsync(fd) != 0 { failure = systemError("cannot fsync \(temp)") }
        if close(fd) != 0, failure == nil { failure = systemError("cannot close \(temp)") }
        if let failure { throw failure }

        guard rename(temp, target) == 0 else { throw systemError("cannot rename \(temp) to \(target)") }
        committed = true
        syncDirectory(directory.path)
    }

    /// Writes `string` as UTF-8.
    public static func write(_ string: String, to url: URL) throws {
        try write(Data(string.utf8), to: url)
    }
}

private func systemError(_ what: String) -> WideNetIOError {
    WideNetIOError("\(what): \(String(cString: strerror(errno)))", .resources)
}

/// Loops because write(2) may write less than asked or be interrupted by a signal.
func writeAll(_ data: Data, to fd: Int32, path: String) -> WideNetIOError? {
    data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> WideNetIOError? in
        guard let base = raw.baseAddress else { return nil }
        var offset = 0
        while offset < raw.count {
            let n = write(fd, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return systemError("cannot write \(path)")
            }
            offset += n
        }
        return nil
    }
}

/// Makes the rename itself durable. Best effort: some filesystems cannot fsync a directory.
private func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    _ = close(fd)
}
