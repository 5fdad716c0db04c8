//! Credential rows: inserts and revocations (run by the writer thread, inside its
//! transaction) and lookups (run on the read pool). Called through `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::storage::contract::{CredentialRecord, StorageError, StoreResult};

pub(super) fn insert_credential(conn: &Connection, credential: &CredentialRecord) -> StoreResult<()> {
    let scopes = serde_json::to_string(&credential.scopes).context("encoding scopes")?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO credentials (key, secret_hash, scopes, label, created, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO NOTHING",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                credential.key,
                credential.secret_hash,
                scopes,
                credential.label,
                credential.created,
                credential.revoked,
            ])
        })
        .context("inserting a credential")?;
    if inserted == 0 {
        return Err(StorageError::DuplicateCredential(credential.key.clone()));
    }
    Ok(())
}

/// Marks the credential revoked; false when no such key exists.
pub(super) fn revoke_credential(conn: &Connection, key: &str) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached("UPDATE credentials SET revoked = 1 WHERE key = ?1")
        .and_then(|mut update| update.execute([key]))
        .context("revoking a credential")?;
    Ok(changed > 0)
}

const CREDENTIAL_COLUMNS: &str = "key, secret_hash, scopes, label, created, revoked";

pub(super) fn find_credential(conn: &Connection, key: &str) -> anyhow::Result<Option<CredentialRecord>> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE key = ?1");
    let row =
        conn.prepare_cached(&sql)?.query_row([key], credential_columns).optional().context("finding a credential")?;
    row.map(CredentialColumns::into_record).transpose()
}

/// Every credential, oldest first (ties by key).
pub(super) fn query_credentials(conn: &Connection) -> anyhow::Result<Vec<CredentialRecord>> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY created, key");
    let mut query = conn.prepare_cached(&sql)?;
    let rows =
        query.query_map([], credential_columns)?.collect::<Result<Vec<_>, _>>().context("querying credentials")?;
    rows.into_iter().map(CredentialColumns::into_record).collect()
}

/// A credential row before its scopes are decoded.
struct CredentialColumns {
    record: CredentialRecord,
    scopes: String,
}

impl CredentialColumns {
    fn into_record(self) -> anyhow::Result<CredentialRecord> {
        let scopes = serde_json::from_str(&self.scopes)
            .with_context(|| format!("decoding the scopes of credential {:?}", self.record.key))?;
        Ok(CredentialRecord { scopes, ..self.record })
    }
}

fn credential_columns(row: &Row<'_>) -> rusqlite::Result<CredentialColumns> {
    Ok(CredentialColumns {
        record: CredentialRecord {
            key: row.get(0)?,
            secret_hash: row.get(1)?,
            scopes: Vec::new(),
            label: row.get(3)?,
            created: row.get(4)?,
            revoked: row.get(5)?,
        },
        scopes: row.get(2)?,
    })
}
