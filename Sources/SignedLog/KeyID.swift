/// Names a verifying key: SHA-256 of the public key's DER SubjectPublicKeyInfo.
///
/// Every seal carries the id of the key that signed it, so a verifier holding the wrong key says
/// "sealed by another key" instead of reporting every seal as forged.
public typealias KeyID = SHA256Digest
