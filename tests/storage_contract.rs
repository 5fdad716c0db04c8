//! The storage contract suite: every case runs against every backend through
//! `Arc<dyn Store>`. Today the embedded SQLite store, on a temporary directory, in four
//! configurations of its term index; another backend adds a `Backend` implementation and
//! one `with_every_case!` invocation.

mod storage_contract {
    pub mod audit;
    pub mod automation;
    pub mod badges;
    pub mod credentials;
    pub mod definitions;
    pub mod documents;
    pub mod erasure;
    pub mod people;
    pub mod queries;
    pub mod skills;
    pub mod support;
    pub mod targeting;
    pub mod voiding;
    pub mod writes;
}

use std::sync::Arc;

use async_trait::async_trait;
use fluency::storage::sqlite::{SqliteSettings, SqliteStore};
use fluency::storage::Store;
use storage_contract::support::Backend;
use tempfile::TempDir;

/// SQLite on a fresh temporary directory; every `open` opens the same file.
struct SqliteBackend {
    dir: TempDir,
    index_batch_statements: usize,
    index_chunk_statements: usize,
}

impl SqliteBackend {
    /// The default settings: the cases' few statements all stay in the in-memory part of
    /// the term index (see `SqliteSettings::index_batch_statements`).
    fn new() -> Self {
        Self::indexing_every(SqliteSettings::new("").index_batch_statements)
    }

    /// Term rows written to the term index once `statements` are unindexed: with 1 every
    /// query reads the index, with 3 most read both parts.
    fn indexing_every(statements: usize) -> Self {
        Self::indexing_in_chunks(statements, usize::MAX)
    }

    /// Past `statements` unindexed, the oldest `chunk` are written at a time: the watermark
    /// then falls between statements of one batch.
    fn indexing_in_chunks(statements: usize, chunk: usize) -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            index_batch_statements: statements,
            index_chunk_statements: chunk,
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn open(&self) -> Arc<dyn Store> {
        let mut settings = SqliteSettings::new(self.dir.path().join("data/lrs.db"));
        settings.read_pool_size = 2;
        settings.index_batch_statements = self.index_batch_statements;
        settings.index_chunk_statements = self.index_chunk_statements;
        Arc::new(SqliteStore::open(settings).expect("the SQLite store opens"))
    }
}

/// One `#[tokio::test]` per case for a backend, each on a fresh store.
macro_rules! contract_cases {
    ($backend:ident => $factory:expr; $($module:ident :: $case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let harness = crate::storage_contract::support::Harness::open(Box::new($factory)).await;
                    crate::storage_contract::$module::$case(harness).await;
                }
            )*
        }
    };
}

/// Invokes `$macro!` with the given head followed by every case of the suite.
macro_rules! with_every_case {
    ($macro:ident ! { $($head:tt)* }) => {
        $macro! { $($head)*
            writes::stored_values_are_unique_and_increasing_under_concurrent_inserts,
            writes::a_batch_gets_increasing_stored_values_in_statement_order,
            writes::stored_json_carries_stored_and_the_defaulted_timestamp,
            writes::an_already_stored_id_fails_the_whole_batch_and_writes_nothing,
            writes::a_failed_batch_does_not_affect_batches_committed_beside_it,
            writes::stored_data_survives_reopening_the_store,
            writes::consistent_through_is_past_every_committed_statement,
            voiding::a_voiding_statement_hides_its_target,
            voiding::a_voiding_statement_stored_before_its_target_still_hides_it,
            voiding::a_voiding_statement_targeting_a_voiding_statement_does_not_hide_it,
            targeting::a_reference_matches_the_terms_of_a_target_stored_earlier,
            targeting::a_reference_stored_before_its_target_matches_the_target_terms,
            targeting::a_chain_of_two_references_matches_in_either_arrival_order,
            targeting::a_reference_to_a_voided_target_matches_while_the_target_stays_hidden,
            targeting::a_reference_cycle_is_stored_and_queried,
            queries::each_term_kind_finds_only_the_statements_with_that_term,
            queries::several_terms_match_only_statements_having_all_of_them,
            queries::since_is_exclusive_and_until_is_inclusive,
            queries::results_are_newest_first_unless_ascending,
            queries::limit_sets_more_only_when_statements_remain,
            queries::paging_has_no_duplicates_or_gaps_while_statements_arrive,
            queries::find_statements_returns_the_stored_ones_voided_included,
            definitions::activity_definitions_are_merged_through_the_batch_function,
            credentials::credentials_are_inserted_found_listed_and_revoked,
            credentials::a_duplicate_credential_key_is_refused,
            documents::document_writes_honour_their_expectation,
            documents::documents_are_kept_apart_by_registration_and_listed_with_since,
            documents::documents_are_deleted_one_by_one_or_by_scope,
            documents::profiles_of_different_kinds_never_mix,
            documents::agents_named_in_batches_are_remembered_in_their_latest_form,
            automation::a_rules_commit_is_durable_and_idempotent,
            automation::rule_state_is_per_rule_expires_and_is_removed,
            automation::outbox_items_are_due_retried_delivered_dead_lettered_and_redriven,
            automation::interventions_are_filtered_by_rule_activity_actor_and_time,
            automation::history_counts_and_averages_a_learners_statements_in_a_window,
            automation::statements_stored_after_feed_the_rules_oldest_first_voided_included,
            audit::audit_entries_are_numbered_chained_and_kept_across_concurrent_appends_and_reopening,
            skills::a_skills_commit_is_durable_idempotent_and_read_by_person_and_skill,
            skills::a_later_commit_replaces_estimates_and_items_and_reset_clears_everything,
            skills::evidence_volumes_count_direct_evidence_and_people_per_skill_and_month,
            people::people_are_upserted_found_by_key_and_listed_by_team_and_survive_reopening,
            people::a_later_upsert_replaces_only_the_fields_it_gives,
            people::consent_is_replaced_per_person_and_kept_across_reopening,
            erasure::erasing_statements_removes_every_statement_naming_the_person_and_nothing_else,
            erasure::an_erasure_job_stays_recorded_until_finished_and_its_tombstones_stay_for_good,
            erasure::erasing_records_removes_the_persons_records_and_keeps_everyone_elses,
            badges::status_positions_are_unique_under_concurrent_reservations,
            badges::an_award_key_or_an_unrevoked_exclusive_credential_returns_the_first,
            badges::revocation_happens_once_and_frees_the_exclusive_place,
            badges::badges_are_listed_newest_first_by_person_and_achievement,
        }
    };
}

with_every_case!(contract_cases! { sqlite => crate::SqliteBackend::new(); });
with_every_case!(contract_cases! { sqlite_indexed_at_once => crate::SqliteBackend::indexing_every(1); });
with_every_case!(contract_cases! { sqlite_indexed_every_3 => crate::SqliteBackend::indexing_every(3); });
with_every_case!(contract_cases! { sqlite_indexed_in_chunks_of_2 => crate::SqliteBackend::indexing_in_chunks(3, 2); });
