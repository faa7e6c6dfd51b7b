// The playground: parses the two editors (YAML or JSON), runs the policy's
// wasm-bindgen build on them and shows what it found. Everything runs in the
// page; `make playground` puts the module, the YAML parser and these files
// in one folder.
import init, { admissionRequest, explain, validate, validateSettings } from './imagegate_policy.js';
import { responsePatch } from './patch.js';
import { presets } from './presets.js';
import { recordedCapabilities } from './recorded.js';
import { parse as parseYaml, stringify as toYaml } from './vendor/yaml/index.js';

const $ = (id) => document.getElementById(id);
const settingsEditor = $('settings');
const workloadEditor = $('workload');
const hostEditor = $('host');
const presetSelect = $('preset');

/** An element with children; strings become text (never HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Text with line-break opportunities after `.`, `/` and `:` (field paths, images). */
function breakable(text) {
  const parts = [];
  for (const piece of String(text).split(/(?<=[./:])/)) parts.push(piece, h('wbr'));
  return parts.slice(0, -1);
}

/** One YAML (or JSON, which is YAML) document; empty text is `null`. */
function parseDocument(text, what) {
  if (text.trim() === '') return null;
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new Error(`${what}: ${e.message}`);
  }
}

function setStatus(kind, verdict, badges = []) {
  $('status').className = `status ${kind}`;
  $('verdict').textContent = verdict;
  $('badges').replaceChildren(...badges.map(([cls, text]) => h('span', { class: `badge ${cls}` }, text)));
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function clearDetails() {
  for (const id of ['violations-block', 'warnings-block', 'images-block', 'mutation-block']) show(id, false);
  $('response').textContent = '';
}

function fail(message) {
  clearDetails();
  setStatus('error', 'CANNOT EVALUATE');
  $('message').textContent = message;
}

function renderViolations(violations) {
  const rows = violations.map((v) =>
    h(
      'tr',
      { class: v.action },
      h('td', { class: 'mono' }, breakable(v.path)),
      h(
        'td',
        { class: 'mono' },
        v.image === null ? h('em', {}, 'no image') : breakable(JSON.stringify(v.image)),
        v.normalized && v.normalized !== v.image ? h('span', { class: 'normalized' }, breakable(v.normalized)) : null,
      ),
      h('td', {}, v.reason),
      h('td', { class: 'rule' }, h('span', { title: v.action }, `${v.rule}${v.action === 'warn' ? ' (warn)' : ''}`)),
    ),
  );
  $('violations').tBodies[0].replaceChildren(...rows);
  show('violations-block', rows.length > 0);
}

function renderImages(images) {
  const rows = images.map((image) => {
    const r = image.reference;
    if (!r) {
      return h(
        'tr',
        { class: 'invalid' },
        h('td', { class: 'mono' }, breakable(image.path)),
        h('td', { class: 'mono' }, image.image === null ? h('em', {}, 'missing') : breakable(JSON.stringify(image.image))),
        h('td', { colspan: 4 }, image.error ?? 'no image'),
      );
    }
    return h(
      'tr',
      {},
      h('td', { class: 'mono' }, breakable(image.path)),
      h(
        'td',
        { class: 'mono' },
        breakable(image.image),
        r.normalized !== image.image ? h('span', { class: 'normalized' }, breakable(r.normalized)) : null,
      ),
      h('td', { class: 'mono' }, r.registry, r.namesRegistry ? null : h('span', { class: 'normalized' }, '(implied)')),
      h('td', { class: 'mono' }, breakable(r.repository)),
      h(
        'td',
        { class: 'mono' },
        r.effectiveTag ?? h('span', { class: 'normalized' }, 'none'),
        r.pinned ? h('span', { class: 'pinned', title: r.digest }, `pinned ${r.digest.slice(0, 15)}…`) : null,
      ),
      h('td', { class: 'mono' }, image.pullPolicy ?? h('span', { class: 'normalized' }, 'default')),
    );
  });
  $('images').tBodies[0].replaceChildren(...rows);
  show('images-block', rows.length > 0);
}

function evaluate() {
  let settings;
  let workload;
  let host;
  try {
    settings = parseDocument(settingsEditor.value, 'settings') ?? {};
    workload = parseDocument(workloadEditor.value, 'workload');
    // No recording: every host lookup fails, as in a host without capabilities.
    const recording = parseDocument(hostEditor.value, 'host answers');
    try {
      host = recording === null ? undefined : recordedCapabilities(recording);
    } catch (e) {
      throw new Error(`host answers: ${e.message}`);
    }
  } catch (e) {
    return fail(e.message);
  }
  if (workload === null) return fail('workload: paste a Kubernetes object, an AdmissionRequest or an AdmissionReview');

  const check = validateSettings(settings);
  if (!check.valid) {
    fail(`The settings are not valid: ${check.message}`);
    setStatus('error', 'SETTINGS NOT VALID');
    return;
  }

  let request;
  let response;
  try {
    request = admissionRequest(workload);
    response = validate(workload, settings, host);
  } catch (e) {
    return fail(`workload: ${e.message}`);
  }
  let explanation = { violations: [], images: [] };
  try {
    explanation = explain(workload, settings, host);
  } catch {
    // A request the policy cannot read: the response says why (code 400).
  }

  clearDetails();
  const warnings = response.warnings ?? [];
  const patch = responsePatch(request.object, response);
  const badges = [];
  if (response.code) badges.push(['code', `code ${response.code}`]);
  if (warnings.length) badges.push(['warn', `${warnings.length} warning${warnings.length === 1 ? '' : 's'}`]);
  if (response.mutated_object) badges.push(['mutated', 'mutated']);
  setStatus(response.accepted ? 'allowed' : 'rejected', response.accepted ? 'ALLOWED' : 'REJECTED', badges);
  $('message').textContent =
    response.message ??
    (explanation.images.length === 0
      ? 'The policy does not check this request (operation, kind or subresource).'
      : explanation.violations.length === 0
        ? `Every image passes (${explanation.images.length} checked).`
        : '');

  renderViolations(explanation.violations);
  $('warnings').replaceChildren(...warnings.map((w) => h('li', {}, w)));
  show('warnings-block', warnings.length > 0);
  renderImages(explanation.images);
  if (response.mutated_object) {
    $('patch').textContent = JSON.stringify(patch, null, 2);
    $('mutated').textContent = toYaml(response.mutated_object);
    show('mutation-block', true);
  }
  $('response').textContent = JSON.stringify(response, null, 2);
}

// The editors' text lives in the address (#s=...&w=...), so a link shows
// what was on the screen; #preset=<id> names an example.
function encode(text) {
  return btoa(String.fromCodePoint(...new TextEncoder().encode(text)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

function decode(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.codePointAt(0)));
}

function stateLink() {
  const host = hostEditor.value.trim() === '' ? '' : `&h=${encode(hostEditor.value)}`;
  return `#s=${encode(settingsEditor.value)}&w=${encode(workloadEditor.value)}${host}`;
}

function loadPreset(id) {
  const preset = presets.find((p) => p.id === id) ?? presets[0];
  presetSelect.value = preset.id;
  $('about').textContent = preset.about;
  settingsEditor.value = preset.settings;
  workloadEditor.value = preset.workload;
  hostEditor.value = preset.host ?? '';
  history.replaceState(null, '', `#preset=${preset.id}`);
  evaluate();
}

function loadFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has('s') && params.has('w')) {
    try {
      settingsEditor.value = decode(params.get('s'));
      workloadEditor.value = decode(params.get('w'));
      hostEditor.value = params.has('h') ? decode(params.get('h')) : '';
      presetSelect.value = '';
      $('about').textContent = 'From a link.';
      evaluate();
      return;
    } catch {
      // Not one of ours: fall back to an example.
    }
  }
  loadPreset(params.get('preset'));
}

let timer;
function edited() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    presetSelect.value = '';
    history.replaceState(null, '', stateLink());
    evaluate();
  }, 120);
}

function indentWithTab(event) {
  if (event.key !== 'Tab' || event.shiftKey) return;
  event.preventDefault();
  event.target.setRangeText('  ', event.target.selectionStart, event.target.selectionEnd, 'end');
  edited();
}

async function main() {
  presetSelect.append(
    h('option', { value: '', disabled: true }, 'your own'),
    ...presets.map((p) => h('option', { value: p.id }, p.title)),
  );
  try {
    await init();
  } catch (e) {
    return fail(`The policy module did not load: ${e.message}`);
  }
  presetSelect.addEventListener('change', () => loadPreset(presetSelect.value));
  for (const editor of [settingsEditor, workloadEditor, hostEditor]) {
    editor.addEventListener('input', edited);
    editor.addEventListener('keydown', indentWithTab);
  }
  $('share').addEventListener('click', (event) => {
    event.preventDefault();
    history.replaceState(null, '', stateLink());
    navigator.clipboard?.writeText(location.href).catch(() => {});
  });
  loadFromAddress();
  document.body.dataset.ready = 'true';
}

main();
