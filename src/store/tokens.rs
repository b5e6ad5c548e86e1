//! Channel tokens: their rows (the secret only as an argon2 hash) and the
//! SQL that keeps them.

use async_trait::async_trait;

use super::{
    StoreError, StoreResult,
    sql::{RowsAffected, classify, sql_impl},
};
use crate::model::{TokenKind, TokenRecord};

const TOKEN_COLUMNS: &str =
    "id, channel_id, kind, name, publisher_id, secret_hash, created_at, expires_at";

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Fails with [`StoreError::NotFound`] when the channel does not exist.
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;
    async fn list_tokens(&self, channel_id: &str) -> StoreResult<Vec<TokenRecord>>;
    async fn delete_token(&self, channel_id: &str, token_id: &str) -> StoreResult<bool>;
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    channel_id: String,
    kind: String,
    name: Option<String>,
    publisher_id: Option<String>,
    secret_hash: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> StoreResult<TokenRecord> {
        Ok(TokenRecord {
            kind: TokenKind::parse(&row.kind)
                .ok_or_else(|| StoreError::Malformed(format!("token kind {:?}", row.kind)))?,
            id: row.id,
            channel_id: row.channel_id,
            name: row.name,
            publisher_id: row.publisher_id,
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

sql_impl!(TokenStore {
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE EXISTS (SELECT 1 FROM channels WHERE id = $2)"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token.id.as_str())
            .bind(token.channel_id.as_str())
            .bind(token.kind.as_str())
            .bind(token.name.as_deref())
            .bind(token.publisher_id.as_deref())
            .bind(token.secret_hash.as_str())
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(self.pool())
            .await
            .map_err(classify)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
        sqlx::query_as::<_, TokenRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(TokenRecord::try_from)
            .transpose()
    }

    async fn list_tokens(&self, channel_id: &str) -> StoreResult<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE channel_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query_as::<_, TokenRow>(sqlx::AssertSqlSafe(sql))
            .bind(channel_id)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    async fn delete_token(&self, channel_id: &str, token_id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM tokens WHERE id = $1 AND channel_id = $2")
            .bind(token_id)
            .bind(channel_id)
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
});
