//! Text enumerations stored in a column, and module tables.
//!
//! Modules store enumerations as short text with a CHECK constraint, so the
//! database refuses a value the code does not know on both backends; the
//! value is the same in the column, in JSON and in list filters.

/// Declares a text enumeration: `text_enum!(module, /// doc Name { /// doc
/// Variant = "value", ... })`. The type is a sea-orm active enum, serializes
/// as its stored value, is named `module.Name` in OpenAPI, and has `ALL`
/// (for filters and CHECK constraints) and `as_str`. The calling crate needs
/// `sea-orm`, `serde` and `utoipa`.
#[macro_export]
macro_rules! text_enum {
    ($schema:ident, $(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:tt),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, sea_orm::EnumIter, sea_orm::DeriveActiveEnum,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
        #[schema(as = $schema::$name)]
        pub enum $name {
            $($(#[$vdoc])* #[sea_orm(string_value = $value)] #[serde(rename = $value)] $variant,)+
        }

        impl $name {
            /// Every value, as stored and as sent over HTTP.
            pub const ALL: &'static [&'static str] = &[$($value),+];

            /// The value as stored.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Declares a sea-orm entity module for one module table: `table!(module,
/// /// doc entity, "table_name", SchemaName, /// doc { fields })`. The model
/// derives `Serialize` and `ToSchema` (named `module.SchemaName`); tables
/// refer to each other by id, with foreign keys in the migration, so there
/// are no relations. The calling crate needs `sea-orm`, `serde`, `utoipa`.
#[macro_export]
macro_rules! table {
    ($prefix:ident, $(#[$doc:meta])* $module:ident, $table:tt, $schema:ident, $(#[$mdoc:meta])* { $($body:tt)* }) => {
        $(#[$doc])*
        pub mod $module {
            use super::*;

            $(#[$mdoc])*
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, utoipa::ToSchema)]
            #[sea_orm(table_name = $table)]
            #[schema(as = $prefix::$schema)]
            pub struct Model { $($body)* }

            /// Rows refer to each other by id.
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}
