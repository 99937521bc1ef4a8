//! Small pieces every page uses: the loading and error states, badges, times, the
//! confirmation dialog, a copy button, and whether the signed-in person may change anything.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outmail_types::delivery::MessageStatus;

use crate::api::Problem;

/// What a page shows while its data loads: a fixed-height block, so the page does not jump
/// when the data arrives.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" aria-busy="true">
            {format!("Loading {what}…")}
        </p>
    }
}

/// A failed request, in words, with the server's field errors when it named any.
#[component]
pub fn ProblemNotice(problem: Problem) -> impl IntoView {
    let fields: Vec<String> = problem
        .error
        .fields
        .iter()
        .flat_map(|(path, errors)| errors.iter().map(move |e| format!("{path}: {}", e.message)))
        .collect();
    view! {
        <div class="notice error" role="alert">
            <p>{problem.error.message.clone()}</p>
            <ul>{fields.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul>
        </div>
    }
}

/// A message's status as a coloured word.
#[component]
pub fn StatusBadge(status: MessageStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.label()}</span> }
}

/// A Unix time in milliseconds, in UTC, machine-readable too.
#[component]
pub fn Time(unix_ms: i64) -> impl IntoView {
    let text = outmail_types::date::format_unix_ms(unix_ms);
    let machine = text.trim_end_matches(" UTC").replace(' ', "T") + "Z";
    view! { <time datetime=machine>{text}</time> }
}

/// A button copying `text` to the clipboard; its name is "Copy {what}", and it says whether the
/// browser let it ("Copied", "Could not copy").
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, what: &'static str) -> impl IntoView {
    // Whether the last copy worked: `None` before any.
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = text.get_untracked();
        let clipboard = window().navigator().clipboard();
        spawn_local(async move {
            let written = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
            copied.set(Some(written.is_ok()));
        });
    };
    view! {
        <button type="button" class="small copy" on:click=copy>
            {move || match copied.get() {
                None => "Copy",
                Some(true) => "Copied",
                Some(false) => "Could not copy",
            }}
            <span class="visually-hidden">{format!(" {what}")}</span>
        </button>
    }
}

/// A modal question with a destructive answer. `open` shows it; Cancel, Escape and the
/// answer close it. Focus starts on Cancel, the safe choice.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    #[prop(into)] title: String,
    #[prop(into)] body: Signal<String>,
    #[prop(into)] confirm_label: String,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let cancel_ref = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if open.get()
            && let Some(button) = cancel_ref.get()
        {
            let _ = button.focus();
        }
    });
    let on_keydown = move |event: leptos::ev::KeyboardEvent| dialog_keys(&event, open);
    view! {
        <Show when=move || open.get()>
            <div class="backdrop">
                <div
                    class="dialog"
                    role="alertdialog"
                    aria-modal="true"
                    aria-labelledby="confirm-title"
                    aria-describedby="confirm-body"
                    on:keydown=on_keydown
                >
                    <h2 id="confirm-title">{title.clone()}</h2>
                    <p id="confirm-body">{move || body.get()}</p>
                    <div class="actions">
                        <button
                            type="button"
                            node_ref=cancel_ref
                            on:click=move |_| open.set(false)
                        >
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class="danger"
                            on:click=move |_| {
                                open.set(false);
                                on_confirm.run(());
                            }
                        >
                            {confirm_label.clone()}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}

/// Keyboard use inside a modal dialog: Escape closes it, and Tab and Shift+Tab go round its
/// own controls instead of leaving for the page behind it (which `aria-modal` says is inert).
/// Attach to the element with the dialog role.
pub fn dialog_keys(event: &leptos::ev::KeyboardEvent, open: RwSignal<bool>) {
    match event.key().as_str() {
        "Escape" => open.set(false),
        "Tab" => keep_focus_inside(event),
        _ => {}
    }
}

fn keep_focus_inside(event: &leptos::ev::KeyboardEvent) {
    use leptos::wasm_bindgen::JsCast;
    let Some(dialog) = event
        .current_target()
        .and_then(|target| target.dyn_into::<leptos::web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(found) = dialog.query_selector_all(
        "button:not([disabled]), input:not([disabled]), select:not([disabled]), \
         textarea:not([disabled]), a[href], summary, [tabindex]:not([tabindex='-1'])",
    ) else {
        return;
    };
    let controls: Vec<leptos::web_sys::HtmlElement> = (0..found.length())
        .filter_map(|index| found.item(index))
        .filter_map(|node| node.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        .collect();
    let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
        return;
    };
    let active = document().active_element();
    let at = |control: &leptos::web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|active| active == control.unchecked_ref::<leptos::web_sys::Element>())
    };
    let wrap_to = if event.shift_key() && at(first) {
        Some(last)
    } else if !event.shift_key() && at(last) {
        Some(first)
    } else {
        None
    };
    if let Some(target) = wrap_to {
        event.prevent_default();
        let _ = target.focus();
    }
}

/// Previous and next page links, when there is more than one page; `link` gives the address
/// of a page.
#[component]
pub fn Pager(current: u32, pages: u64, link: Callback<u32, String>) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                <Show when=move || { current > 1 }>
                    <a href=move || link.run(current - 1)>"Previous"</a>
                </Show>
                <span>{format!("Page {current} of {pages}")}</span>
                <Show when=move || { u64::from(current) < pages }>
                    <a href=move || link.run(current + 1)>"Next"</a>
                </Show>
            </nav>
        }
    })
}

/// One input of the sign-in and setup forms: label, input and the message under it, bound
/// for assistive technology (`aria-invalid`, `aria-describedby`), with an optional hint.
#[component]
pub fn CredentialField(
    /// The input's id; the message is `{id}-error` and the hint `{id}-hint`.
    id: &'static str,
    label: &'static str,
    /// `text`, `email` or `password`.
    input_type: &'static str,
    autocomplete: &'static str,
    /// The form field's name, for password managers.
    #[prop(optional)]
    name: Option<&'static str>,
    #[prop(into)] value: Signal<String>,
    on_input: Callback<String>,
    #[prop(into)] error: Signal<Option<String>>,
    /// Called when the field is left (messages show once a field was left).
    #[prop(optional)]
    on_leave: Option<Callback<()>>,
    #[prop(optional, into)] hint: Option<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = if hint.is_some() {
        format!("{hint_id} {error_id}")
    } else {
        error_id.clone()
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=input_type
                autocomplete=autocomplete
                spellcheck=(input_type != "password").then_some("false")
                required
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |e| on_input.run(event_target_value(&e))
                on:blur=move |_| {
                    if let Some(leave) = on_leave {
                        leave.run(());
                    }
                }
            />
            {hint.map(|hint| view! { <p class="hint" id=hint_id>{hint}</p> })}
            <p class="field-error" id=error_id>{move || error.get()}</p>
        </div>
    }
}

/// The result of a page's last action: a confirmation, or what went wrong.
pub type Notice = RwSignal<Option<Result<String, Problem>>>;

/// Shows a [`Notice`] where the page keeps its notices.
#[component]
pub fn ShowNotice(notice: Notice) -> impl IntoView {
    move || {
        notice.get().map(|result| match result {
            Ok(text) => view! { <p class="notice ok">{text}</p> }.into_any(),
            Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
        })
    }
}

/// Whether the signed-in person may change things: false only for a viewer. The one place the
/// UI decides which buttons are off; the server refuses a viewer's writes anyway, so while the
/// session is still loading (or on a page without one) everything counts as changeable.
pub fn can_change() -> Signal<bool> {
    let user = use_context::<crate::CurrentUser>();
    Signal::derive(move || {
        user.and_then(|user| {
            user.0
                .with(|session| session.as_ref().map(|s| s.role.can_change()))
        })
        .unwrap_or(true)
    })
}

/// Whether the signed-in person may change things, once the session has loaded: `None` before.
/// For what a viewer is not shown at all (a form only an admin can use), where "not known yet"
/// must not count as yes: a page waits for the answer rather than show the form and take it
/// away again.
pub fn session_can_change() -> Signal<Option<bool>> {
    let user = use_context::<crate::CurrentUser>();
    Signal::derive(move || {
        user.and_then(|user| {
            user.0
                .with(|session| session.as_ref().map(|s| s.role.can_change()))
        })
    })
}

/// Says, near a page's title, why its buttons are off for a viewer.
#[component]
pub fn ReadOnlyNotice() -> impl IntoView {
    let can = can_change();
    view! {
        <Show when=move || !can.get()>
            <p class="notice read-only" role="status">
                "Read only: you are signed in as a viewer."
            </p>
        </Show>
    }
}
