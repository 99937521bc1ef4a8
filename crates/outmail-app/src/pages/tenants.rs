//! Tenants: each customer sends through the global default profile or its own. The page shows
//! what every tenant's mail goes through right now (the effective configuration), which parts
//! are inherited from the global settings and which are the tenant's own.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use outmail_types::settings::{
    EffectiveConfiguration, Source, TenantDraft, TenantProfileDraft, TenantView,
};
use outmail_types::{FieldErrors, ProfileSummary};

use crate::api::{self, Problem};
use crate::components::{
    ConfirmDialog, Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, can_change,
};

/// One tenant with what it resolves to.
#[derive(Debug, Clone)]
struct Row {
    view: TenantView,
    effective: Result<EffectiveConfiguration, Problem>,
}

#[component]
pub fn Tenants() -> impl IntoView {
    let reloads = RwSignal::new(0_u32);
    let loaded = LocalResource::new(move || {
        reloads.track();
        async move {
            let tenants = api::get::<Vec<TenantView>>("/tenants").await?;
            let profiles = api::all_profiles().await?;
            let mut rows = Vec::with_capacity(tenants.len());
            for view in tenants {
                let path = format!("/tenants/{}/effective", view.tenant.id);
                let effective = api::get::<EffectiveConfiguration>(&path).await;
                rows.push(Row { view, effective });
            }
            Ok::<_, Problem>((rows, profiles))
        }
    });
    let notice: Notice = RwSignal::new(None);
    let reload = move || reloads.update(|n| *n += 1);

    view! {
        <Title text="Tenants" />
        <h1>"Tenants"</h1>
        <ReadOnlyNotice />
        <p class="lead">"Each tenant sends through the global profile or its own."</p>
        <div class="notices" aria-live="polite">
            <ShowNotice notice=notice />
        </div>
        <Suspense fallback=|| view! { <Loading what="the tenants" /> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok((rows, profiles)) => {
                        view! {
                            <AddTenant profiles=profiles.clone() notice reload />
                            <TenantList rows profiles notice reload />
                        }
                            .into_any()
                    }
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn profile_draft(choice: &str) -> TenantProfileDraft {
    if choice.is_empty() {
        TenantProfileDraft::UseGlobal
    } else {
        TenantProfileDraft::Own {
            profile_id: choice.to_owned(),
        }
    }
}

fn profile_options(profiles: &[ProfileSummary]) -> impl IntoView + use<> {
    let options = profiles
        .iter()
        .map(|p| {
            let id = p.id.to_string();
            let label = format!("Its own: {}", p.name);
            view! { <option value=id>{label}</option> }
        })
        .collect_view();
    view! {
        <option value="">"The global default profile"</option>
        {options}
    }
}

#[component]
fn AddTenant(
    profiles: Vec<ProfileSummary>,
    notice: Notice,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let draft = RwSignal::new(TenantDraft {
        id: String::new(),
        name: String::new(),
        profile: TenantProfileDraft::UseGlobal,
        support_address: None,
    });
    let can = can_change();
    let touched = RwSignal::new(false);
    let errors = Memo::new(move |_| draft.with(|d| d.validate().err().unwrap_or_default()));
    let server_errors = RwSignal::new(FieldErrors::new());
    let message = move |path: &'static str| {
        let local = errors
            .with(|e| e.get(path).first().map(|e| e.message.clone()))
            .filter(|_| touched.get());
        local.or_else(|| server_errors.with(|e| e.get(path).first().map(|e| e.message.clone())))
    };
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        touched.set(true);
        if !errors.with(FieldErrors::is_empty) {
            return;
        }
        let body = draft.get_untracked();
        spawn_local(async move {
            match api::post::<_, TenantView>("/tenants", &body).await {
                Ok(view) => {
                    notice.set(Some(Ok(format!("Added “{}”.", view.tenant.name))));
                    reload();
                }
                Err(problem) => {
                    server_errors.set(problem.error.fields.clone());
                    notice.set(Some(Err(problem)));
                }
            }
        });
    };
    view! {
        <form class="form inline-form" novalidate on:submit=add>
            <fieldset>
                <legend>"Add a tenant"</legend>
                <div class="field required">
                    <label for="tenant-id">"Tenant ID"</label>
                    <input
                        id="tenant-id"
                        type="text"
                        placeholder="acme"
                        autocomplete="off"
                        aria-invalid=move || message("id").is_some().to_string()
                        aria-describedby="tenant-id-error"
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            draft.update(|d| d.id = text);
                            server_errors.set(FieldErrors::new());
                        }
                    />
                    <p class="field-error" id="tenant-id-error">{move || message("id")}</p>
                </div>
                <div class="field required">
                    <label for="tenant-name">"Name"</label>
                    <input
                        id="tenant-name"
                        type="text"
                        placeholder="ACME Corp"
                        autocomplete="off"
                        aria-invalid=move || message("name").is_some().to_string()
                        aria-describedby="tenant-name-error"
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            draft.update(|d| d.name = text);
                        }
                    />
                    <p class="field-error" id="tenant-name-error">{move || message("name")}</p>
                </div>
                <div class="field">
                    <label for="tenant-profile">"Sends through"</label>
                    <select
                        id="tenant-profile"
                        on:change=move |e| {
                            let choice = event_target_value(&e);
                            draft.update(|d| d.profile = profile_draft(&choice));
                        }
                    >
                        {profile_options(&profiles)}
                    </select>
                </div>
                <button type="submit" class="primary" disabled=move || !can.get()>
                    "Add tenant"
                </button>
            </fieldset>
        </form>
    }
}

fn source_label(source: Source) -> &'static str {
    match source {
        Source::Tenant => "own",
        Source::Global => "inherited from the global settings",
        Source::None => "none",
    }
}

#[component]
fn TenantList(
    rows: Vec<Row>,
    profiles: Vec<ProfileSummary>,
    notice: Notice,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let can = can_change();
    let deleting = RwSignal::new(None::<TenantView>);
    let confirm_open = RwSignal::new(false);
    let confirm_body = Signal::derive(move || {
        deleting
            .get()
            .map(|t| {
                format!(
                    "“{}” will be deleted; its messages stay in the log.",
                    t.tenant.name
                )
            })
            .unwrap_or_default()
    });
    let delete = Callback::new(move |()| {
        let Some(view) = deleting.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let path = format!("/tenants/{}", view.tenant.id);
            let answer = api::delete(&path, &format!("\"{}\"", view.version)).await;
            notice.set(Some(
                answer.map(|()| format!("Deleted “{}”.", view.tenant.name)),
            ));
            reload();
        });
    });
    let change_profile = move |view: TenantView, choice: String| {
        spawn_local(async move {
            let mut draft = view.tenant.clone();
            draft.profile = profile_draft(&choice);
            let path = format!("/tenants/{}", draft.id);
            let etag = format!("\"{}\"", view.version);
            let answer = api::put::<_, TenantView>(&path, &etag, &draft).await;
            notice.set(Some(
                answer.map(|saved| format!("Saved “{}”.", saved.body.tenant.name)),
            ));
            reload();
        });
    };
    if rows.is_empty() {
        return view! { <p class="empty">"No tenants yet: every message uses the global settings."</p> }
            .into_any();
    }
    let cards = rows
        .into_iter()
        .map(|row| {
            let current = match &row.view.tenant.profile {
                TenantProfileDraft::UseGlobal => String::new(),
                TenantProfileDraft::Own { profile_id } => profile_id.clone(),
            };
            let id = row.view.tenant.id.clone();
            let select_id = format!("tenant-{id}-profile");
            let (for_change, for_delete) = (row.view.clone(), row.view.clone());
            let effective = match row.effective {
                Ok(e) => {
                    let profile = e
                        .profile
                        .as_ref()
                        .map(|p| format!("{} ({})", p.name, p.target))
                        .unwrap_or_else(|| "none".to_owned());
                    let support = e.support_address.clone().unwrap_or_else(|| "none".to_owned());
                    view! {
                        <dl class="effective">
                            <dt>"Profile"</dt>
                            <dd data-source=format!("{:?}", e.profile_source).to_lowercase()>
                                {profile} " · " <em>{source_label(e.profile_source)}</em>
                            </dd>
                            <dt>"Support address"</dt>
                            <dd data-source=format!("{:?}", e.support_address_source).to_lowercase()>
                                {support} " · " <em>{source_label(e.support_address_source)}</em>
                            </dd>
                            <dt>"Why"</dt>
                            <dd>{e.reason.clone()}</dd>
                        </dl>
                    }
                        .into_any()
                }
                Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
            };
            view! {
                <article class="card" data-tenant=id.clone()>
                    <header>
                        <h2>{row.view.tenant.name.clone()}</h2>
                        <code>{id.clone()}</code>
                    </header>
                    <div class="field inline">
                        <label for=select_id.clone()>"Sends through"</label>
                        <select
                            id=select_id
                            // Changing it saves at once, so a viewer cannot change it.
                            disabled=move || !can.get()
                            prop:value=current
                            on:change=move |e| change_profile(for_change.clone(), event_target_value(&e))
                        >
                            {profile_options(&profiles)}
                        </select>
                    </div>
                    {effective}
                    <button
                        type="button"
                        class="small danger"
                        aria-label=format!("Delete tenant “{}”", row.view.tenant.name)
                        disabled=move || !can.get()
                        on:click=move |_| {
                            deleting.set(Some(for_delete.clone()));
                            confirm_open.set(true);
                        }
                    >
                        "Delete"
                    </button>
                </article>
            }
        })
        .collect_view();
    view! {
        <div class="cards">{cards}</div>
        <ConfirmDialog
            open=confirm_open
            title="Delete this tenant?"
            body=confirm_body
            confirm_label="Delete"
            on_confirm=delete
        />
    }
    .into_any()
}
