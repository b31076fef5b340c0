//! RSA keys that sign and verify ServiceAccount JWTs (RS256, like the kube-apiserver's
//! `--service-account-signing-key-file`).

use anyhow::Context;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rcgen::{KeyPair, PKCS_RSA_SHA256};

/// One RS256 key pair plus the `kid` stamped into the JWT header.
pub(crate) struct JwtKey {
    pub(crate) kid: String,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
}

impl JwtKey {
    /// A fresh 2048-bit key. aws-lc does the prime search in C, so this stays fast in
    /// unoptimised test builds (a whole server start, two keys included, takes ~0.4 s).
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let pair = KeyPair::generate_for(&PKCS_RSA_SHA256).context("generate RSA key")?;
        let encoding = EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes())
            .context("load RSA private key")?;
        let decoding = DecodingKey::from_rsa_pem(pair.public_key_pem().as_bytes())
            .context("load RSA public key")?;
        // The apiserver derives `kid` from the public key; a random id serves the same
        // purpose here (telling keys apart) without pulling in a hash crate.
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            kid,
            encoding,
            decoding,
        })
    }

    /// The public half as a JWK (`kty`, `n`, `e` base64url, `alg`, `kid`): what the
    /// apiserver publishes at `/openid/v1/jwks`, for verifiers of their own (Envoy's
    /// `jwt_authn` in `make bench`).
    pub(crate) fn public_jwk(&self) -> anyhow::Result<serde_json::Value> {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, Algorithm::RS256)
            .context("RSA public components")?;
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(serde_json::to_value(jwk)?)
    }
}
