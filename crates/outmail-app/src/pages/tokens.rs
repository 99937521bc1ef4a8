//! API tokens: what programs send mail and read the delivery log with. Each token carries only
//! the scopes it was created with, and may be bound to one tenant; the token itself is shown
//! once, when it is created (the server keeps only a hash), and a token is revoked after a
//! confirmation. The Relay page creates its SMTP tokens with the same form.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use outmail_types::FieldErrors;
use outmail_types::access::{ApiTokenView, CreatedApiToken, NewApiToken, TokenScope};
use outmail_types::settings::TenantView;

use crate::api::{self, Problem};
use crate::components::{
    ConfirmDialog, Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, Time, can_change,
};

/// The tenants a new token may be bound to, as a page loads them.
pub type TenantChoices = LocalResource<Result<Vec<TenantView>, Problem>>;

fn empty_draft(only_scope: Option<TokenScope>) -> NewApiToken {
    NewApiToken {
        name: String::new(),
        scopes: only_scope.into_iter().collect(),
        tenant: None,
    }
}

#[component]
pub fn Tokens() -> impl IntoView {
    let reloads = RwSignal::new(0_u32);
    let tokens = LocalResource::new(move || {
        reloads.track();
        async move { api::get::<Vec<ApiTokenView>>("/tokens").await }
    });
    let tenants: TenantChoices =
        LocalResource::new(|| async move { api::get::<Vec<TenantView>>("/tenants").await });
    let notice: Notice = RwSignal::new(None);
    // The token just created, shown until the admin hides it or leaves the page.
    let created = RwSignal::new(None::<CreatedApiToken>);
    let reload = move || reloads.update(|n| *n += 1);

    // The token waiting for the revoke confirmation.
    let revoking = RwSignal::new(None::<ApiTokenView>);
    let confirm_open = RwSignal::new(false);
    let ask_revoke = move |token: ApiTokenView| {
        revoking.set(Some(token));
        confirm_open.set(true);
    };
    let confirm_body = Signal::derive(move || {
        revoking
            .get()
            .map(|t| {
                format!(
                    "“{}” ({}…) stops working at once: programs using it are refused.",
                    t.name, t.prefix
                )
            })
            .unwrap_or_default()
    });
    let revoke = Callback::new(move |()| {
        let Some(token) = revoking.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let answer = api::delete_plain(&format!("/tokens/{}", token.id)).await;
            notice.set(Some(answer.map(|()| format!("Revoked “{}”.", token.name))));
            // The token shown once is gone too if it was this one.
            if created.with_untracked(|c| c.as_ref().is_some_and(|c| c.view.id == token.id)) {
                created.set(None);
            }
            reload();
        });
    });

    view! {
        <Title text="API tokens" />
        <h1>"API tokens"</h1>
        <ReadOnlyNotice />
        <p class="lead">
            "Programs queue messages and read the delivery log with a token, sent as "
            <code>"Authorization: Bearer …"</code>
            ". A token can do only what its scopes allow, and one bound to a tenant sends only that tenant's mail."
        </p>
        <NewTokenForm notice created reload tenants />
        <CreatedToken created />
        <div class="notices" aria-live="polite">
            <ShowNotice notice=notice />
        </div>
        <Suspense fallback=|| view! { <Loading what="the tokens" /> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No tokens yet."</p> }.into_any()
                    }
                    Ok(list) => view! { <TokenTable list ask_revoke /> }.into_any(),
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
        <ConfirmDialog
            open=confirm_open
            title="Revoke this token?"
            body=confirm_body
            confirm_label="Revoke"
            on_confirm=revoke
        />
    }
}

/// The name, the scopes and the tenant of a new token, checked as typed with the server's own
/// rules. With `only_scope` the token gets that one scope and there is nothing to choose.
#[component]
pub fn NewTokenForm(
    notice: Notice,
    created: RwSignal<Option<CreatedApiToken>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
    tenants: TenantChoices,
    #[prop(optional)] only_scope: Option<TokenScope>,
    #[prop(default = "Create a token")] legend: &'static str,
) -> impl IntoView {
    let can = can_change();
    let draft = RwSignal::new(empty_draft(only_scope));
    // Messages show after the first attempt to create, as in the other add forms.
    let touched = RwSignal::new(false);
    let errors = Memo::new(move |_| draft.with(NewApiToken::validate));
    let server_errors = RwSignal::new(FieldErrors::new());
    let creating = RwSignal::new(false);
    let message = move |path: &'static str| {
        let local = errors
            .with(|e| e.get(path).first().map(|e| e.message.clone()))
            .filter(|_| touched.get());
        local.or_else(|| server_errors.with(|e| e.get(path).first().map(|e| e.message.clone())))
    };

    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        touched.set(true);
        if !errors.with_untracked(FieldErrors::is_empty) {
            return;
        }
        let mut body = draft.get_untracked();
        body.name = body.name.trim().to_owned();
        creating.set(true);
        spawn_local(async move {
            let answer = api::post::<_, CreatedApiToken>("/tokens", &body).await;
            creating.set(false);
            match answer {
                Ok(token) => {
                    notice.set(None);
                    created.set(Some(token));
                    draft.set(empty_draft(only_scope));
                    touched.set(false);
                    server_errors.set(FieldErrors::new());
                    reload();
                }
                Err(problem) => {
                    server_errors.set(problem.error.fields.clone());
                    notice.set(Some(Err(problem)));
                }
            }
        });
    };

    let scopes = match only_scope {
        Some(scope) => view! {
            <p class="fixed-scope">
                "Scope: " <code>{scope.as_str()}</code>
                <span class="hint">{format!(" ({})", scope.describe())}</span>
            </p>
        }
        .into_any(),
        None => view! {
            <fieldset class="scopes" aria-describedby="token-scopes-error">
                <legend>"Scopes"</legend>
                {scope_boxes(draft, server_errors)}
                <p class="field-error" id="token-scopes-error">{move || message("scopes")}</p>
            </fieldset>
        }
        .into_any(),
    };
    let tenant_options = move || {
        tenants
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|choice| {
                let label = format!("{} ({})", choice.tenant.name, choice.tenant.id);
                view! { <option value=choice.tenant.id>{label}</option> }
            })
            .collect_view()
    };
    let tenant_hint = move || match tenants.get() {
        Some(Err(problem)) => format!(
            "The tenants could not be loaded ({problem}): the token can still be made for any tenant."
        ),
        _ => "A token bound to a tenant sends only that tenant's mail.".to_owned(),
    };

    view! {
        <form class="form" novalidate on:submit=create>
            <fieldset>
                <legend>{legend}</legend>
                <div class="field required">
                    <label for="token-name">"Name"</label>
                    <input
                        id="token-name"
                        type="text"
                        placeholder="billing service"
                        autocomplete="off"
                        aria-invalid=move || message("name").is_some().to_string()
                        aria-describedby="token-name-hint token-name-error"
                        prop:value=move || draft.with(|d| d.name.clone())
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            draft.update(|d| d.name = text);
                            server_errors.set(FieldErrors::new());
                        }
                    />
                    <p class="hint" id="token-name-hint">
                        "What the token is for, e.g. the program that uses it."
                    </p>
                    <p class="field-error" id="token-name-error">{move || message("name")}</p>
                </div>
                {scopes}
                <div class="field">
                    <label for="token-tenant">"Tenant"</label>
                    <select
                        id="token-tenant"
                        aria-invalid=move || message("tenant").is_some().to_string()
                        aria-describedby="token-tenant-hint token-tenant-error"
                        prop:value=move || draft.with(|d| d.tenant.clone().unwrap_or_default())
                        on:change=move |e| {
                            let id = event_target_value(&e);
                            draft.update(|d| d.tenant = Some(id).filter(|id| !id.is_empty()));
                            server_errors.set(FieldErrors::new());
                        }
                    >
                        <option value="">"Any tenant"</option>
                        {tenant_options}
                    </select>
                    <p class="hint" id="token-tenant-hint">{tenant_hint}</p>
                    <p class="field-error" id="token-tenant-error">{move || message("tenant")}</p>
                </div>
                <div class="form-actions">
                    <button
                        type="submit"
                        class="primary"
                        disabled=move || creating.get() || !can.get()
                    >
                        {move || if creating.get() { "Creating…" } else { "Create token" }}
                    </button>
                </div>
            </fieldset>
        </form>
    }
}

/// A checkbox per scope, with what it allows; kept in the order of `TokenScope::ALL`.
fn scope_boxes(
    draft: RwSignal<NewApiToken>,
    server_errors: RwSignal<FieldErrors>,
) -> impl IntoView {
    TokenScope::ALL
        .into_iter()
        .map(|scope| {
            let id = format!("token-scope-{}", scope.as_str().replace(':', "-"));
            let hint_id = format!("{id}-hint");
            view! {
                <div class="field check">
                    <input
                        id=id.clone()
                        type="checkbox"
                        aria-describedby=hint_id.clone()
                        prop:checked=move || draft.with(|d| d.scopes.contains(&scope))
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            draft.update(|d| {
                                // Kept in the order of `TokenScope::ALL`, whatever the clicks.
                                d.scopes = TokenScope::ALL
                                    .into_iter()
                                    .filter(|s| if *s == scope { on } else { d.scopes.contains(s) })
                                    .collect();
                            });
                            server_errors.set(FieldErrors::new());
                        }
                    />
                    <label for=id>
                        <code>{scope.as_str()}</code>
                    </label>
                    <p class="hint" id=hint_id>
                        {scope.describe()}
                    </p>
                </div>
            }
        })
        .collect_view()
}

/// The token just created, with a Copy button: the only time it can be seen. `for_smtp` adds
/// where a product enters it.
#[component]
pub fn CreatedToken(
    created: RwSignal<Option<CreatedApiToken>>,
    #[prop(optional)] for_smtp: bool,
) -> impl IntoView {
    move || {
        created.get().map(|token| {
            // Whether the last copy worked: `None` before any.
            let copied = RwSignal::new(None::<bool>);
            let text = token.token.expose().to_owned();
            let copy = move |_| {
                let text = text.clone();
                let clipboard = window().navigator().clipboard();
                spawn_local(async move {
                    let written =
                        wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
                    copied.set(Some(written.is_ok()));
                });
            };
            view! {
                <div class="notice ok token-once" role="status" id="created-token">
                    <p>
                        <strong>{format!("Created “{}”.", token.view.name)}</strong>
                        " Copy the token now: it is shown only this once and cannot be shown again."
                    </p>
                    <div class="token-row">
                        <label for="new-token">"Token"</label>
                        <input
                            id="new-token"
                            type="text"
                            readonly
                            spellcheck="false"
                            autocomplete="off"
                            prop:value=token.token.expose().to_owned()
                        />
                        <button type="button" on:click=copy>
                            {move || if copied.get() == Some(true) { "Copied" } else { "Copy" }}
                        </button>
                    </div>
                    {for_smtp
                        .then(|| {
                            view! {
                                <p class="hint">
                                    "In the product's SMTP settings the password is this token; the username can be anything, for example “"
                                    {token.view.name.clone()} "”."
                                </p>
                            }
                        })}
                    <p class="hint">
                        {move || {
                            if copied.get() == Some(false) {
                                "The browser did not allow copying: select the token and copy it."
                            } else {
                                ""
                            }
                        }}
                    </p>
                    <button type="button" class="small" on:click=move |_| created.set(None)>
                        "Hide the token"
                    </button>
                </div>
            }
        })
    }
}

#[component]
fn TokenTable(
    list: Vec<ApiTokenView>,
    ask_revoke: impl Fn(ApiTokenView) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let can = can_change();
    let rows = list
        .into_iter()
        .map(|token| {
            let ask_revoke = ask_revoke.clone();
            let for_revoke = token.clone();
            let scopes = token
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let tenant = match token.tenant.clone() {
                Some(tenant) => view! { <code>{tenant}</code> }.into_any(),
                None => view! { <span class="hint">"any"</span> }.into_any(),
            };
            let last_used = match token.last_used_at {
                Some(at) => view! { <Time unix_ms=at /> }.into_any(),
                None => view! { <span class="hint">"never"</span> }.into_any(),
            };
            view! {
                <tr data-token=token.id.clone()>
                    <th scope="row" class="wrap">{token.name.clone()}</th>
                    <td>{scopes}</td>
                    <td>{tenant}</td>
                    <td>
                        <code>{format!("{}…", token.prefix)}</code>
                    </td>
                    <td>
                        <Time unix_ms=token.created_at />
                    </td>
                    <td class="wrap">{token.created_by.clone()}</td>
                    <td>{last_used}</td>
                    <td class="actions">
                        <button
                            type="button"
                            class="small danger"
                            aria-label=format!("Revoke “{}”", token.name)
                            disabled=move || !can.get()
                            on:click=move |_| ask_revoke(for_revoke.clone())
                        >
                            "Revoke"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="tokens">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Tenant"</th>
                        <th scope="col">"Prefix"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Created by"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
