//! Trusted JWT signing keys and the JWT deny-list: their rows and SQL.
//!
//! Public keys are not secret, so nothing here is hashed; what a key is and
//! what a token may do are `auth`'s to decide. This file only keeps rows
//! and their bounds.

use async_trait::async_trait;

use super::{
    StoreError, StoreResult,
    sql::{RowsAffected, classify, sql_impl},
};
use crate::model::{Millis, RevocationRecord, TrustedKeyRecord, short_hex};

const KEY_COLUMNS: &str = "kid, alg, jwk, max_scopes, issuer, require_exp, max_ttl_ms, created_at";
/// Written with a key, never read back into the record (it is derived).
const FINGERPRINT_COLUMN: &str = "fingerprint";
const REVOCATION_COLUMNS: &str = "id, kind, value, issuer, issued_before, expires_at, created_at";

/// How adding a bounded row went.
#[derive(Debug, PartialEq, Eq)]
pub enum Adding {
    Done,
    /// A row with that key exists.
    Exists,
    /// As many rows as allowed exist.
    Full,
}

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Adds a key unless `kid` exists or `max` keys do.
    async fn add_key(&self, key: &TrustedKeyRecord, max: usize) -> StoreResult<Adding>;
    async fn list_keys(&self) -> StoreResult<Vec<TrustedKeyRecord>>;
    async fn get_key(&self, kid: &str) -> StoreResult<Option<TrustedKeyRecord>>;
    async fn delete_key(&self, kid: &str) -> StoreResult<bool>;
    /// Adds an entry unless `max` unexpired ones exist (expired ones are
    /// swept first).
    async fn add_revocation(
        &self,
        revocation: &RevocationRecord,
        max: usize,
        now: Millis,
    ) -> StoreResult<Adding>;
    /// The entries not yet expired at `now`.
    async fn list_revocations(&self, now: Millis) -> StoreResult<Vec<RevocationRecord>>;
    async fn delete_revocation(&self, id: &str) -> StoreResult<bool>;
}

sql_impl!(KeyStore {
    async fn add_key(&self, key: &TrustedKeyRecord, max: usize) -> StoreResult<Adding> {
        let mut tx = self.backend().begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT kid FROM trusted_keys WHERE kid = $1")
            .bind(key.kid.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Ok(Adding::Exists);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trusted_keys")
            .fetch_one(&mut *tx)
            .await?;
        if count >= max as i64 {
            return Ok(Adding::Full);
        }
        let sql = format!(
            "INSERT INTO trusted_keys ({KEY_COLUMNS}, {FINGERPRINT_COLUMN}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key.kid.as_str())
            .bind(key.alg.as_str())
            .bind(key.jwk.as_str())
            .bind(key.max_scopes.as_deref())
            .bind(key.issuer.as_deref())
            .bind(key.require_exp)
            .bind(key.max_ttl_ms)
            .bind(key.created_at)
            .bind(short_hex(&key.fingerprint()))
            .execute(&mut *tx)
            .await
            .map_err(classify);
        match inserted {
            Err(StoreError::Conflict) => return Ok(Adding::Exists),
            other => other?,
        };
        tx.commit().await?;
        Ok(Adding::Done)
    }

    async fn list_keys(&self) -> StoreResult<Vec<TrustedKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM trusted_keys ORDER BY created_at, kid");
        Ok(sqlx::query_as::<_, TrustedKeyRecord>(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?)
    }

    async fn get_key(&self, kid: &str) -> StoreResult<Option<TrustedKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM trusted_keys WHERE kid = $1");
        Ok(sqlx::query_as::<_, TrustedKeyRecord>(sqlx::AssertSqlSafe(sql))
            .bind(kid)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM trusted_keys WHERE kid = $1")
            .bind(kid)
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn add_revocation(
        &self,
        revocation: &RevocationRecord,
        max: usize,
        now: Millis,
    ) -> StoreResult<Adding> {
        let mut tx = self.backend().begin_write().await?;
        sqlx::query("DELETE FROM jwt_revocations WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jwt_revocations")
            .fetch_one(&mut *tx)
            .await?;
        if count >= max as i64 {
            tx.commit().await?;
            return Ok(Adding::Full);
        }
        let sql = format!(
            "INSERT INTO jwt_revocations ({REVOCATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(revocation.id.as_str())
            .bind(revocation.kind.as_str())
            .bind(revocation.value.as_str())
            .bind(revocation.issuer.as_deref())
            .bind(revocation.issued_before)
            .bind(revocation.expires_at)
            .bind(revocation.created_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await?;
        Ok(Adding::Done)
    }

    async fn list_revocations(&self, now: Millis) -> StoreResult<Vec<RevocationRecord>> {
        let sql = format!(
            "SELECT {REVOCATION_COLUMNS} FROM jwt_revocations \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at, id"
        );
        Ok(sqlx::query_as::<_, RevocationRecord>(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(self.pool())
            .await?)
    }

    async fn delete_revocation(&self, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM jwt_revocations WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
});
