//! One export: its checks (the resource exists and is enabled, the role
//! reads its area, raw only for roles with the raw right, the filters and
//! profile are valid), its pages, and its one audit entry.
//!
//! The entry is appended when the last page is read, naming the module,
//! resource, format, profile, filter fields and operators, and the row
//! count; never a value. An export abandoned part way (a client that hung
//! up) is recorded as well, with the rows sent so far and `incomplete`.

use custodian_core::Store;
use custodian_ledger::audit::{self, Actor};
use custodian_module::{
    Env, Modules,
    export::{ExportResource, Reader},
};
use custodian_privacy::access::{Access, ExportRight, Role};

use crate::{
    ExportError,
    deid::{Cell, Keys, transform},
    format::Format,
    profile::{Column, Plan, Profiles, valid_name},
};

/// What exports are made with: the configured profiles and the export keys
/// (or why there are none: de-identified exports then answer 503).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `safe_harbor` and `[export.profiles.*]`.
    pub profiles: Profiles,
    /// The export keys, or why they are missing.
    pub keys: Result<Keys, String>,
}

impl Settings {
    /// From the process configuration: profiles from `[export]`, keys from
    /// `export.key` when it is set, else from the pepper.
    pub fn from_env(env: &Env) -> Result<Self, ExportError> {
        let keys = match &env.config().export_key {
            Some(key) => Ok(Keys::from_export_key(key)),
            None => env
                .pseudonymizer()
                .map(|pz| Keys::from_pseudonymizer(pz))
                .map_err(|e| e.to_string()),
        };
        Ok(Self {
            profiles: Profiles::from_config(env.config().export.as_ref())?,
            keys,
        })
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Request {
    /// The file format.
    pub format: Format,
    /// A de-identification profile; `None` exports raw.
    pub profile: Option<String>,
    /// List-grammar filters and `order`, plus `include_deleted` and `split`.
    pub filters: Vec<(String, String)>,
    /// CSV only (ignored for other formats): prefix text cells a
    /// spreadsheet would run as a formula with `'`.
    pub excel_safe: bool,
}

/// An export under way.
pub struct Job {
    store: Store,
    reader: Reader,
    module: &'static str,
    resource: ExportResource,
    plan: Plan,
    keys: Option<Keys>,
    request: Request,
    cursor: Option<String>,
    first: Option<Vec<Vec<Cell>>>,
    done: bool,
    rows: u64,
    recorded: bool,
}

/// The resource `module/resource` among the enabled modules.
pub fn find(
    modules: &Modules,
    module: &str,
    resource: &str,
) -> Result<(&'static str, ExportResource), ExportError> {
    let m = modules
        .enabled()
        .iter()
        .find(|m| m.name() == module)
        .ok_or_else(|| ExportError::NotFound(format!("no enabled module {module:?}")))?;
    let exports = m.exports();
    let names: Vec<&str> = exports.iter().map(|r| r.name).collect();
    let r = exports
        .iter()
        .find(|r| r.name == resource)
        .cloned()
        .ok_or_else(|| {
            ExportError::NotFound(format!(
                "{module} has no exportable resource {resource:?}; it has: {}",
                names.join(", ")
            ))
        })?;
    Ok((m.name(), r))
}

impl Job {
    /// Whether `role` may export `resource` (through a profile when
    /// `profiled`); a refusal is recorded in the chain before it is
    /// returned. [`Job::start`] runs it first; the HTTP route runs it before
    /// it waits for nothing else, so a refusal is recorded even when every
    /// export slot is taken.
    pub async fn authorize(
        store: &Store,
        actor: &Actor,
        role: Role,
        resource: &ExportResource,
        profiled: bool,
    ) -> Result<(), ExportError> {
        if !resource.area.permits(role, Access::Read) {
            audit::append(
                store,
                actor.change("access_denied", resource.area.name, "export", &[]),
            )
            .await?;
            return Err(ExportError::Forbidden(format!(
                "role {role} may not read {}",
                resource.area.name
            )));
        }
        if !profiled && role.export_right() != ExportRight::Raw {
            audit::append(
                store,
                actor.change("export_denied", resource.entity, "raw", &[]),
            )
            .await?;
            return Err(ExportError::Forbidden(format!(
                "role {role} may export only de-identified data: name a profile \
                 (profile=safe_harbor, or --profile safe_harbor)"
            )));
        }
        Ok(())
    }

    /// Checks the request for `actor` with `role` on `module`'s `resource`
    /// (see [`find`]) and prepares the export;
    /// a refusal is recorded in the chain before it is returned.
    pub async fn start(
        store: Store,
        actor: Actor,
        role: Role,
        (module, resource): (&'static str, ExportResource),
        settings: &Settings,
        request: Request,
    ) -> Result<Self, ExportError> {
        Self::authorize(&store, &actor, role, &resource, request.profile.is_some()).await?;
        let (plan, keys) = match &request.profile {
            None => (Plan::raw(&resource), None),
            Some(name) => {
                if !valid_name(name) {
                    return Err(ExportError::Usage(
                        "profile: 1 to 64 of a-z, 0-9, _ and -".into(),
                    ));
                }
                let profile = settings.profiles.get(name)?;
                let plan = Plan::of(profile, module, &resource)?;
                let keys = settings.keys.clone().map_err(ExportError::Unavailable)?;
                (plan, Some(keys))
            }
        };
        // Only CSV has formula text to quote (NDJSON is no spreadsheet's,
        // and Excel cells are typed): elsewhere it does nothing, and is
        // not recorded.
        let mut request = request;
        request.excel_safe &= request.format == Format::Csv;
        check_shape(&request.filters, request.profile.as_ref().map(|_| &plan))?;
        resource.source.check(&request.filters)?;
        let mut job = Self {
            store,
            reader: Reader { actor, role },
            module,
            resource,
            plan,
            keys,
            request,
            cursor: None,
            first: None,
            done: false,
            rows: 0,
            recorded: false,
        };
        // The first page is read now, so that what only reading can refuse
        // (a split outside the role, deleted rows for a non-admin) is
        // answered before a response has begun.
        job.first = job.read_page().await?;
        Ok(job)
    }

    /// The file's columns.
    pub fn columns(&self) -> &[Column] {
        &self.plan.columns
    }

    /// The file name a download suggests: `module-resource.format`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}.{}",
            self.module,
            self.resource.name,
            self.request.format.as_str()
        )
    }

    /// Whether CSV text cells are made safe to open in a spreadsheet.
    pub fn excel_safe(&self) -> bool {
        self.request.excel_safe
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next page of file rows, or `None` when every row has been read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ExportError> {
        match self.first.take() {
            Some(page) => Ok(Some(page)),
            None => self.read_page().await,
        }
    }

    async fn read_page(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ExportError> {
        if self.done {
            return Ok(None);
        }
        let (rows, next) = self
            .resource
            .source
            .page(
                &self.store,
                &self.reader,
                &self.request.filters,
                self.cursor.as_deref(),
            )
            .await?;
        self.done = next.is_none();
        self.cursor = next;
        self.rows += rows.len() as u64;
        Ok(Some(
            rows.iter()
                .map(|r| transform(&self.plan, self.keys.as_ref(), r))
                .collect(),
        ))
    }

    /// Appends the export's entry to the chain; call once every page is read.
    pub async fn finish(mut self) -> Result<u64, ExportError> {
        self.recorded = true;
        audit::append(&self.store, self.entry(false)).await?;
        Ok(self.rows)
    }

    fn entry(&self, incomplete: bool) -> audit::Change {
        let mut what = vec![
            format!("module:{}", self.module),
            format!("resource:{}", self.resource.name),
            format!("format:{}", self.request.format.as_str()),
            format!(
                "profile:{}",
                self.request.profile.as_deref().unwrap_or("raw")
            ),
            format!("rows:{}", self.rows),
        ];
        if self.request.excel_safe {
            what.push("excel_safe".into());
        }
        what.extend(self.request.filters.iter().map(|(k, v)| filter_name(k, v)));
        if incomplete {
            what.push("incomplete".into());
        }
        let names: Vec<&str> = what.iter().map(String::as_str).collect();
        let mut c = self
            .reader
            .actor
            .change("export", self.resource.entity, "", &names);
        c.entity_id = None;
        c
    }
}

impl Drop for Job {
    /// An export dropped before its end (a client that hung up) is still
    /// recorded, with the rows read so far.
    fn drop(&mut self) {
        if self.recorded || self.rows == 0 {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!("an abandoned export could not be recorded: no runtime");
            return;
        };
        let store = self.store.clone();
        let entry = self.entry(true);
        rt.spawn(async move {
            if let Err(e) = audit::append(&store, entry).await {
                tracing::error!(error = %e, "could not record an abandoned export");
            }
        });
    }
}

/// Refuses what the list grammar alone would let through an export: a
/// repeated `split` or `include_deleted` (only the first would act, and
/// each would be recorded), and, under a profile, a filter or `order` on a
/// field the profile does not keep as stored, which would single people
/// out by what the file hides (`id=eq.<uuid>` links a stored id to its
/// export pseudonym; `created_at=gt.` bisects a shifted date; `age=eq.93`
/// undoes the 90+ band).
fn check_shape(filters: &[(String, String)], profile: Option<&Plan>) -> Result<(), ExportError> {
    for flag in ["split", "include_deleted"] {
        if filters.iter().filter(|(k, _)| k == flag).count() > 1 {
            return Err(ExportError::Usage(format!("{flag}: give it once")));
        }
    }
    let Some(plan) = profile else { return Ok(()) };
    let kept = |field: &str| {
        plan.columns
            .iter()
            .any(|c| c.name == field && c.action == crate::profile::Action::Keep)
    };
    for (key, value) in filters {
        let fields: Vec<&str> = match key.as_str() {
            "split" | "include_deleted" => continue,
            "order" => value
                .split(',')
                .map(|item| item.split('.').next().unwrap_or_default().trim())
                .collect(),
            // A JSON-key filter (`metadata->>channel`) acts on its column.
            k => vec![k.split("->>").next().unwrap_or_default()],
        };
        if let Some(hidden) = fields.into_iter().find(|f| !kept(f)) {
            return Err(ExportError::Usage(format!(
                "{key}: under a profile, filters and order may name only fields the profile \
                 keeps as stored, and it does not keep {hidden:?}"
            )));
        }
    }
    Ok(())
}

/// A filter as the chain records it: its field and operator, never its
/// value (`filter:brand=eq`, `filter:created_at=not.gt`). The field passed
/// the list spec's whitelist; anything else is recorded as `?`.
fn filter_name(key: &str, value: &str) -> String {
    const OPS: [&str; 12] = [
        "eq", "neq", "gt", "gte", "lt", "lte", "in", "like", "ilike", "is", "not", "asc",
    ];
    let field = if key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        key
    } else {
        "?"
    };
    if key == "order" || key == "split" || key == "include_deleted" {
        return format!("filter:{field}");
    }
    let mut parts = value.splitn(3, '.');
    let first = parts.next().unwrap_or("");
    let op = match first {
        "not" => match parts.next() {
            Some(o) if OPS.contains(&o) => format!("not.{o}"),
            _ => "?".into(),
        },
        o if OPS.contains(&o) => o.to_owned(),
        _ => "?".into(),
    };
    format!("filter:{field}={op}")
}

#[cfg(test)]
mod tests {
    use super::filter_name;

    #[test]
    fn filters_are_recorded_without_their_values() {
        assert_eq!(filter_name("brand", "eq.Secret"), "filter:brand=eq");
        assert_eq!(filter_name("age", "not.gt.40"), "filter:age=not.gt");
        assert_eq!(filter_name("name", "Jane"), "filter:name=?");
        assert_eq!(filter_name("we ird", "eq.x"), "filter:?=eq");
        assert_eq!(filter_name("order", "created_at.desc"), "filter:order");
    }
}
