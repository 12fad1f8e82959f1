import Foundation

/// Encodes an Encodable value into a JSONValue with the keys in the order the type encodes them
/// (for a synthesised conformance, its CodingKeys), a nil optional as null and a non-finite
/// number as null (JSON has no NaN), so config.json and summary.json list every field, in a
/// meaningful order, from one declaration. Foundation's JSONEncoder orders keys arbitrarily or
/// alphabetically and drops nil fields.
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = Node()
        try Node.encode(value, into: node)
        return node.json
    }
}

/// One value under construction.
private final class Node {
    var value: JSONValue? = nil
    var keys: [String] = [], children: [String: Node] = [:]
    var items: [Node] = []
    var isObject = false, isArray = false

    var json: JSONValue {
        if isObject {
            var o = JSONObject()
            for key in keys { o[key] = children[key]!.json }
            return .object(o)
        }
        if isArray { return .array(items.map(\.json)) }
        return value ?? .null
    }

    func child(_ key: String) -> Node {
        isObject = true
        if let existing = children[key] { return existing }
        let node = Node()
        keys.append(key); children[key] = node
        return node
    }

    func append() -> Node {
        isArray = true
        let node = Node()
        items.append(node)
        return node
    }

    /// Numbers, strings and booleans directly; anything else through its own encode(to:).
    static func encode<T: Encodable>(_ value: T, into node: Node) throws {
        switch value {
        case let v as Double: node.value = v.isFinite ? .number(v) : .null
        case let v as Float: node.value = v.isFinite ? .number(Double(v)) : .null
        case let v as Int: node.value = .int(v)
        case let v as Int64: node.value = .int(Int(v))
        case let v as Int32: node.value = .int(Int(v))
        case let v as UInt64: node.value = v <= UInt64(Int.max) ? .int(Int(v)) : .number(Double(v))
        case let v as UInt32: node.value = .int(Int(v))
        case let v as Bool: node.value = .bool(v)
        case let v as String: node.value = .string(v)
        default: try value.encode(to: NodeEncoder(node: node))
        }
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.isObject = true
        return KeyedEncodingContainer(Keyed<Key>(node: node))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { node.isArray = true; return Unkeyed(node: node) }
    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    var codingPath: [any CodingKey] = []

    mutating func encodeNil(forKey key: Key) throws { node.child(key.stringValue).value = .null }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try Node.encode(value, into: node.child(key.stringValue)) }
    // nil is written as null, so the field is listed.
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encodeIfPresent(value as Bool?, generic: key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encodeIfPresent(value as String?, generic: key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encodeIfPresent(value as Double?, generic: key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encodeIfPresent(value as Int?, generic: key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encodeIfPresent(value as Int64?, generic: key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try encodeIfPresent(value as UInt64?, generic: key) }
    private mutating func encodeIfPresent<T: Encodable>(_ value: T?, generic key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = node.child(key.stringValue)
        child.isObject = true
        return KeyedEncodingContainer(Keyed<NestedKey>(node: child))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.child(key.stringValue)
        child.isArray = true
        return Unkeyed(node: child)
    }
    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.child("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(node: node.child(key.stringValue)) }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey] = []
    var count: Int { node.items.count }

    mutating func encodeNil() throws { node.append().value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try Node.encode(value, into: node.append()) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = node.append()
        child.isObject = true
        return KeyedEncodingContainer(Keyed<NestedKey>(node: child))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = node.append()
        child.isArray = true
        return Unkeyed(node: child)
    }
    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.append()) }
}

private struct Single: SingleValueEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey] = []

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try Node.encode(value, into: node) }
}
