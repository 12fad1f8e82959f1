public let widenetVersion = "0.1.0"
