//! Sessionhub's schema history. Applied at start-up and by `sessionhub migrate`.

pub use sea_orm_migration::{migrator::MigrationStatus, prelude::*};

mod m20261123_000001_create_tables;
mod m20261202_000001_account_event_positions;
mod m20261203_000001_new_sign_ins;
mod m20261203_000002_housekeeping_indexes;
mod m20261203_000003_admin_actions;
mod m20261203_000004_webhook_deliveries;
mod m20261207_000001_account_scoped_session_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261202_000001_account_event_positions::Migration),
            Box::new(m20261203_000001_new_sign_ins::Migration),
            Box::new(m20261203_000002_housekeeping_indexes::Migration),
            Box::new(m20261203_000003_admin_actions::Migration),
            Box::new(m20261203_000004_webhook_deliveries::Migration),
            Box::new(m20261207_000001_account_scoped_session_indexes::Migration),
        ]
    }
}
