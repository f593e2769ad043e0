//! Rate limits and budgets on gateway keys (set by their owner) and on users (set by an admin).
//! Every column is nullable: `NULL` is no limit of that kind. A budget is its three columns
//! together (amount in nano-units, currency, period), all set or all `NULL`.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum ApiKeys {
    Table,
    ConcurrencyLimit,
}

#[derive(Debug, DeriveIden)]
enum Users {
    Table,
}

#[derive(Debug, DeriveIden)]
enum Columns {
    RpmLimit,
    TpmLimit,
    BudgetNanos,
    BudgetCurrency,
    BudgetPeriod,
}

fn limit_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(Columns::RpmLimit).integer().null().to_owned(),
        ColumnDef::new(Columns::TpmLimit).big_integer().null().to_owned(),
        ColumnDef::new(Columns::BudgetNanos).big_integer().null().to_owned(),
        schema::string(Columns::BudgetCurrency, 3).null().to_owned(),
        schema::string(Columns::BudgetPeriod, 16).null().to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        let mut key_columns = limit_columns();
        key_columns.push(ColumnDef::new(ApiKeys::ConcurrencyLimit).integer().null().to_owned());
        for mut column in key_columns {
            manager
                .alter_table(Table::alter().table(ApiKeys::Table).add_column(&mut column).to_owned())
                .await?;
        }
        for mut column in limit_columns() {
            manager
                .alter_table(Table::alter().table(Users::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let names = [
            Columns::RpmLimit,
            Columns::TpmLimit,
            Columns::BudgetNanos,
            Columns::BudgetCurrency,
            Columns::BudgetPeriod,
        ];
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::ConcurrencyLimit)
                    .to_owned(),
            )
            .await?;
        for name in names {
            let name = name.into_iden();
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .drop_column(name.clone())
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(Table::alter().table(Users::Table).drop_column(name).to_owned())
                .await?;
        }
        Ok(())
    }
}
