// gitml ui: a read-only single-page app. Every view has a URL (#/view?params), so the back
// button and shared links work. Everything that comes from the repository is put into the
// page as text (textContent, attribute values we build), never parsed as HTML.
'use strict';

(function () {
  const main = document.getElementById('main');
  const state = {token: null, selected: new Set(), route: null};
  window.gitmlTiming = {};

  // -- DOM helpers: text only --------------------------------------------------------------
  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'value' || k === 'selected') node[k] = v;
      else node.setAttribute(k, String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }
  function href(view, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const s = q.toString();
    return '#/' + view + (s ? '?' + s : '');
  }
  function link(text, view, params, cls) {
    return el('a', {href: href(view, params), class: cls}, text);
  }
  function table(heads, rows, opts) {
    opts = opts || {};
    return el('div', {class: 'scroll'}, el('table', {id: opts.id},
      el('thead', {}, el('tr', {}, heads.map((h) => h instanceof Node ? h : el('th', {}, h)))),
      el('tbody', {}, rows)));
  }
  function td(v, cls) { return el('td', {class: cls}, v); }
  function fmt(v) {
    if (v === undefined) return '-';
    if (v === null) return 'null';
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return String(v);
      const s = v.toPrecision(5);
      return s.includes('e') ? s : String(parseFloat(s));
    }
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function size(n) {
    if (n === undefined || n === null) return '-';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function when(t) {
    if (!t) return '';
    const d = new Date(t * 1000);
    return d.toISOString().slice(0, 16).replace('T', ' ');
  }
  function ago(t) {
    if (!t) return '';
    const s = Date.now() / 1000 - t;
    if (s < 90) return Math.round(s) + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  function badge(status) { return el('span', {class: 'badge st-' + status}, status); }
  function verdictCell(c) {
    if (!c) return td('');
    const cls = c.verdict === 'within tolerance' ? 'within' : (c.verdict || '');
    let text = c.kind === 'added' || c.kind === 'deleted' ? c.kind : '';
    if (typeof c.change === 'number') {
      text = (c.change > 0 ? '+' : '') + fmt(c.change);
      if (typeof c.percent === 'number') text += ' (' + (c.percent > 0 ? '+' : '') + c.percent.toFixed(1) + '%)';
    } else if (c.kind === 'modified' && !text) text = 'changed';
    if (c.kind === 'error') text = 'unreadable';
    return el('td', {class: 'num'}, text, c.verdict ? el('span', {class: cls}, ' ' + c.verdict) : null);
  }

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const res = await fetch('/api/' + path + (q.toString() ? '?' + q : ''), {cache: 'no-store'});
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  // -- routing -------------------------------------------------------------------------------
  function parseRoute() {
    const h = location.hash.replace(/^#\/?/, '');
    const [view, query] = h.split('?');
    return {view: view || 'experiments', q: new URLSearchParams(query || '')};
  }
  const VIEWS = {};
  let renderSeq = 0;
  async function render(quiet) {
    const route = parseRoute();
    const seq = ++renderSeq;
    const started = performance.now();
    document.body.setAttribute('data-ready', 'loading');
    document.body.setAttribute('data-view', route.view);
    document.getElementById('nav-experiments').className = ['experiments', 'compare', 'commit', 'datadiff'].includes(route.view) ? 'on' : '';
    document.getElementById('nav-models').className = ['models', 'model'].includes(route.view) ? 'on' : '';
    const view = VIEWS[route.view];
    const box = el('div', {});
    try {
      if (!view) throw new Error('no such view: ' + route.view);
      const scroll = window.scrollY;
      await view(box, route.q);
      if (seq !== renderSeq) return;
      main.replaceChildren(box);
      if (quiet) window.scrollTo(0, scroll);
    } catch (e) {
      if (seq !== renderSeq) return;
      main.replaceChildren(el('p', {class: 'error'}, 'error: ' + e.message));
      console.warn(e);
    }
    await (box.gitmlCharts || Promise.resolve());
    if (seq !== renderSeq) return;
    window.gitmlTiming[route.view] = performance.now() - started;
    window.gitmlRenders = (window.gitmlRenders || 0) + 1;
    if (window.gitmlRenders === 1) window.gitmlTiming.firstRender = performance.now();  // since navigation
    document.body.setAttribute('data-ready', 'yes');
  }
  window.addEventListener('hashchange', () => render(false));

  // live refresh: a cheap token that moves with any ref or running experiment's files
  async function poll() {
    const live = document.getElementById('live');
    try {
      const {token} = await api('version');
      live.className = '';
      live.textContent = '● live';
      if (state.token !== null && token !== state.token && document.body.getAttribute('data-ready') === 'yes') {
        state.token = token;
        await render(true);
        live.textContent = '● live, updated ' + new Date().toLocaleTimeString();
      }
      state.token = token;
    } catch (e) {
      live.className = 'stale';
      live.textContent = '○ server not answering';
    }
  }
  setInterval(poll, 2000);

  // -- experiments -----------------------------------------------------------------------------
  const OPS = ['>=', '<=', '!=', '=', '>', '<', '~'];
  function parseFilter(text, columns) {
    const terms = [];
    for (const raw of (text || '').split(/\s+/).filter(Boolean)) {
      const op = OPS.find((o) => raw.includes(o));
      if (!op) { terms.push({name: raw.toLowerCase()}); continue; }
      const [lhs, rhs] = [raw.slice(0, raw.indexOf(op)), raw.slice(raw.indexOf(op) + op.length)];
      const col = columns.find((c) => c.label === lhs) || columns.find((c) => c.key === lhs) ||
                  columns.find((c) => c.path + ':' + c.key === lhs);
      terms.push({col: col ? col.id : null, lhs, op, rhs});
    }
    return terms;
  }
  function matches(row, terms) {
    for (const t of terms) {
      if (t.name !== undefined) { if (!row.name.toLowerCase().includes(t.name)) return false; continue; }
      if (!t.col) return false;
      const v = row.values[t.col];
      if (v === undefined) return false;
      const num = Number(t.rhs);
      const both = typeof v === 'number' && t.rhs !== '' && !Number.isNaN(num);
      const a = both ? v : fmt(v), b = both ? num : t.rhs;
      const ok = {'=': a === b, '!=': a !== b, '>': a > b, '<': a < b, '>=': a >= b,
                  '<=': a <= b, '~': String(fmt(v)).includes(t.rhs)}[t.op];
      if (!ok) return false;
    }
    return true;
  }
  const AGES = {'': 0, '1h': 3600, '1d': 86400, '7d': 604800, '30d': 2592000};

  VIEWS.experiments = async function (box, q) {
    const data = await api('experiments');
    const t0 = performance.now();
    const cols = data.columns;
    const byId = Object.fromEntries(cols.map((c) => [c.id, c]));
    const chosen = q.getAll('col').filter((id) => byId[id]);
    const shown = chosen.length ? chosen : cols.map((c) => c.id);
    const sort = q.get('sort'), order = q.get('order') || 'asc';
    const statuses = [...new Set(data.rows.map((r) => r.status))];
    const wanted = q.get('status') ? q.get('status').split(',') : statuses;
    const age = AGES[q.get('age') || ''] || 0;
    const group = q.get('group');
    const terms = parseFilter(q.get('q'), cols);
    const now = Date.now() / 1000;
    const setQ = (changes) => {
      const p = {col: chosen, sort, order, status: q.get('status'), age: q.get('age'), group, q: q.get('q')};
      Object.assign(p, changes);
      location.hash = href('experiments', p);
    };
    let rows = data.rows.filter((r) => wanted.includes(r.status) && (r.type === 'baseline' || matches(r, terms)) &&
      (!age || r.type === 'baseline' || (r.created && now - r.created <= age)));
    if (sort && byId[sort]) {
      const base = rows.filter((r) => r.type === 'baseline');
      const rest = rows.filter((r) => r.type !== 'baseline');
      const has = rest.filter((r) => r.values[sort] !== undefined && r.values[sort] !== null);
      const not = rest.filter((r) => !(r.values[sort] !== undefined && r.values[sort] !== null));
      has.sort((a, b) => {
        const x = a.values[sort], y = b.values[sort];
        const c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(fmt(x)).localeCompare(String(fmt(y)));
        return order === 'desc' ? -c : c;
      });
      rows = [...base, ...has, ...not];
    }
    // toolbar: filter, status, age, group, columns, compare
    const input = el('input', {type: 'text', id: 'filter', value: q.get('q') || '',
      placeholder: 'filter: exp-1  val.acc>0.8  train.lr=0.01  name~text',
      onkeydown: (e) => { if (e.key === 'Enter') setQ({q: e.target.value}); }});
    const statusBoxes = statuses.map((s) => el('label', {}, el('input', {type: 'checkbox', checked: wanted.includes(s),
      'data-status': s, onchange: (e) => {
        const next = new Set(wanted);
        if (e.target.checked) next.add(s); else next.delete(s);
        setQ({status: next.size === statuses.length ? null : [...next].join(',')});
      }}), ' ', s));
    const ageSel = el('select', {id: 'age', onchange: (e) => setQ({age: e.target.value || null})},
      Object.keys(AGES).map((k) => el('option', {value: k, selected: (q.get('age') || '') === k}, k ? 'last ' + k : 'any age')));
    const groupSel = el('select', {id: 'group', onchange: (e) => setQ({group: e.target.value || null})},
      el('option', {value: ''}, 'no grouping'),
      cols.filter((c) => c.kind === 'params').map((c) => el('option', {value: c.id, selected: group === c.id}, 'group by ' + c.label)));
    const compareBtn = el('button', {id: 'compare', onclick: () => {
      const revs = data.rows.filter((r) => state.selected.has(r.name) && r.rev).map((r) => r.name);
      if (revs.length) location.hash = href('compare', {rev: revs});
    }}, 'Compare selected');
    const colPanel = el('details', {id: 'columns'}, el('summary', {}, 'Columns (' + shown.length + ' of ' + cols.length + ')'),
      el('div', {class: 'cols'}, [...shown, ...cols.map((c) => c.id).filter((id) => !shown.includes(id))].map((id, i) => {
        const on = shown.includes(id);
        const move = (d) => { const next = shown.slice(); const j = i + d; [next[i], next[j]] = [next[j], next[i]]; setQ({col: next}); };
        return el('div', {}, el('input', {type: 'checkbox', checked: on, 'data-col': id, onchange: (e) => {
          setQ({col: e.target.checked ? [...shown, id] : shown.filter((x) => x !== id)}); }}),
          on && i > 0 ? el('button', {onclick: () => move(-1), title: 'move left'}, '◀') : null,
          on && i < shown.length - 1 ? el('button', {onclick: () => move(1), title: 'move right'}, '▶') : null,
          el('span', {}, byId[id].label), el('span', {class: 'none'}, ' ' + byId[id].kind.slice(0, -1) + ' · ' + byId[id].path));
      })));
    box.appendChild(el('h1', {}, 'Experiments'));
    box.appendChild(el('div', {class: 'toolbar'}, input, statusBoxes, ageSel, groupSel, compareBtn,
      el('span', {class: 'none', id: 'count'}, rows.length + ' of ' + data.rows.length + ' rows')));
    box.appendChild(colPanel);
    // the table
    const heads = [el('th', {}, ''), el('th', {}, 'Experiment'), el('th', {}, 'State'), el('th', {}, 'Created')];
    for (const id of shown) {
      const c = byId[id];
      const cls = 'sortable' + (sort === id ? ' sorted-' + order : '');
      heads.push(el('th', {class: cls, 'data-col': id, title: c.path + ':' + c.key + (c.direction ? ' (' + c.direction + ' is better)' : ''),
        onclick: () => setQ({sort: id, order: sort === id && order === 'asc' ? 'desc' : 'asc'})}, c.label));
    }
    const body = [];
    const emit = (r) => {
      const box = el('input', {type: 'checkbox', class: 'sel', 'data-name': r.name, checked: state.selected.has(r.name),
        disabled: !r.rev, onchange: (e) => { if (e.target.checked) state.selected.add(r.name); else state.selected.delete(r.name); }});
      const name = r.rev ? link(r.name, 'commit', {rev: r.rev, base: r.base || undefined}) : el('span', {}, r.name);
      const tr = el('tr', {class: r.type === 'baseline' ? 'baseline' : '', 'data-name': r.name},
        el('td', {}, box), el('td', {}, name, r.overrides && r.overrides.length ? el('div', {class: 'none'}, r.overrides.join(', ')) : null),
        el('td', {}, badge(r.status), r.remote ? [' ', badge('remote')] : null), el('td', {title: when(r.created)}, r.type === 'baseline' ? 'HEAD' : ago(r.created)),
        shown.map((id) => { const v = r.values[id]; return td(fmt(v), typeof v === 'number' ? 'num' : ''); }));
      body.push(tr);
    };
    if (group && byId[group]) {
      const groups = new Map();
      for (const r of rows) { const k = fmt(r.values[group]); if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); }
      for (const [k, rs] of groups) {
        body.push(el('tr', {class: 'group'}, el('td', {colspan: 4 + shown.length}, byId[group].label + ' = ' + k + ' (' + rs.length + ')')));
        rs.forEach(emit);
      }
    } else rows.forEach(emit);
    box.appendChild(table(heads, body, {id: 'exp-table'}));
    if (!data.rows.some((r) => r.type !== 'baseline')) box.appendChild(el('p', {class: 'none'}, 'No experiments yet. Start one with: gitml exp run -S KEY=VALUE'));
    window.gitmlTiming.experimentsBuild = performance.now() - t0;
  };

  // -- compare -----------------------------------------------------------------------------------
  // Vega (about 1 MB) is loaded the first time a view has charts, not for the table
  let vegaLoaded = null;
  function loadVega() {
    if (!vegaLoaded) {
      vegaLoaded = new Promise((resolve, reject) => {
        const s = el('script', {src: '/static/vega.js'});
        s.addEventListener('load', resolve);
        s.addEventListener('error', () => reject(new Error('could not load /static/vega.js')));
        document.head.appendChild(s);
      });
    }
    return vegaLoaded;
  }

  async function drawCharts(box, charts) {
    if (charts.some((c) => c.spec)) await loadVega();
    if (window.gitmlNoVega) {
      box.appendChild(el('p', {class: 'none'}, window.gitmlNoVega));
      return;
    }
    window.gitmlViews = {};
    const jobs = [];
    for (const c of charts) {
      const sec = el('section', {class: 'chart-section', 'data-path': c.path},
        el('h3', {}, c.title, c.title !== c.path ? el('span', {class: 'none'}, '  ' + c.path) : null));
      if (c.spec) {
        const div = el('div', {class: 'chart', id: 'ui-' + c.id});
        sec.appendChild(div);
        jobs.push({div, c});
      } else sec.appendChild(el('p', {class: 'none'}, 'Nothing to draw at any revision.'));
      if (c.notes.length) sec.appendChild(el('ul', {class: 'notes'}, c.notes.map((n) => el('li', {}, n))));
      const conf = c.template === 'confusion';
      sec.appendChild(table(conf ? ['revision', 'samples', 'accuracy', 'note'] : ['revision', 'points', 'last', 'min', 'max', 'note'],
        c.summary.map((r) => el('tr', {}, td(r.rev), td(fmt(r.points), 'num'),
          conf ? [td(r.accuracy === undefined ? '' : r.accuracy.toFixed(4), 'num')] :
            [td(fmt(r.last), 'num'), td(fmt(r.min), 'num'), td(fmt(r.max), 'num')], td(r.note || '')))));
      box.appendChild(sec);
    }
    // embed once the section is in the document (width: container)
    await new Promise((resolve) => setTimeout(resolve, 0));
    await Promise.all(jobs.map(({div, c}) =>
      vegaEmbed(div, c.spec, {actions: false, renderer: 'canvas'}).then((res) => { window.gitmlViews[c.id] = res.view; })));
  }

  function diffTable(kind, data) {
    const many = new Set(data[kind].map((r) => r.path)).size > 1;
    const showAll = parseRoute().q.get('all') === '1';
    const rows = data[kind].filter((r) => showAll || r.changes.some((c) => c && c.kind !== 'unchanged') || data.revs.length === 1);
    const heads = [...(many ? ['file'] : []), kind === 'metrics' ? 'metric' : 'param'];
    data.revs.forEach((r, i) => { heads.push(r.label); if (i > 0) heads.push('change vs ' + data.revs[0].label); });
    return table(heads, rows.map((r) => el('tr', {'data-key': r.key}, many ? td(r.path) : null,
      td(r.key, r.direction ? 'dir-' + r.direction : ''),
      data.revs.map((_, i) => [td(r.present[i] ? fmt(r.values[i]) : '-', 'num'), i > 0 ? verdictCell(r.changes[i]) : null]))),
    {id: kind + '-table'});
  }

  // one logged image: a step slider, and per revision the image at or before that step
  function imageSet(img, revs) {
    const steps = [...new Set(Object.values(img.revisions).flat().map((x) => x.step))].sort((a, b) => a - b);
    const last = steps[steps.length - 1];
    const label = el('span', {class: 'none'});
    const figs = revs.map((r) => {
      const list = img.revisions[r.label] || [];
      const pic = el('img', {alt: img.name + ' at ' + r.label});
      const cap = el('span', {class: 'none'});
      const fig = el('figure', {'data-rev': r.label}, el('figcaption', {}, r.label, cap), pic);
      fig.show = (want) => {
        const at = list.filter((x) => x.step <= want).pop();
        pic.style.display = at ? '' : 'none';
        if (at) pic.setAttribute('src', at.url);
        cap.textContent = at ? ' (step ' + at.step + ')' : ' (none yet)';
      };
      return fig;
    });
    const slider = el('input', {type: 'range', min: steps[0], max: last, value: last, step: 1,
      oninput: (e) => { label.textContent = ' step ' + e.target.value; figs.forEach((f) => f.show(Number(e.target.value))); }});
    figs.forEach((f) => f.show(last));
    label.textContent = ' step ' + last;
    return el('section', {class: 'imgset', 'data-name': img.name}, el('h3', {}, img.name, label), slider, el('div', {class: 'imgs'}, figs));
  }

  VIEWS.compare = async function (box, q) {
    const revs = q.getAll('rev');
    const [data, plots] = await Promise.all([api('compare', {rev: revs}), api('plots', {rev: revs})]);
    box.appendChild(el('h1', {}, 'Compare ', data.revs.map((r, i) => [i ? ' · ' : '', link(r.label, 'commit', {rev: r.sha})])));
    const all = q.get('all') === '1';
    box.appendChild(el('p', {}, link(all ? 'only what changed' : 'show unchanged too', 'compare', {rev: revs, all: all ? null : '1'}),
      ' · data changes: ', data.revs.slice(1).map((r, i) => [i ? ', ' : '', link(data.revs[0].label + ' → ' + r.label, 'commit', {rev: r.sha, base: data.revs[0].sha})])));
    for (const kind of ['metrics', 'params']) {
      box.appendChild(el('h2', {}, kind === 'metrics' ? 'Metrics' : 'Params'));
      box.appendChild(data[kind].length ? diffTable(kind, data) : el('p', {class: 'none'}, 'None.'));
    }
    if (data.warnings.length) box.appendChild(el('ul', {class: 'notes'}, data.warnings.map((w) => el('li', {}, w))));
    box.appendChild(el('h2', {}, 'Plots'));
    if (!plots.charts.length) box.appendChild(el('p', {class: 'none'}, 'No series at these revisions.'));
    const charts = el('div', {id: 'charts'});
    box.appendChild(charts);
    if (plots.images.length) box.appendChild(el('h2', {}, 'Images'));
    for (const img of plots.images) box.appendChild(imageSet(img, data.revs));
    main.replaceChildren(box);  // charts size themselves to the page
    box.gitmlCharts = drawCharts(charts, plots.charts);
  };

  // -- one commit: data changes, lineage -------------------------------------------------------
  VIEWS.commit = async function (box, q) {
    const d = await api('commit', {rev: q.get('rev'), base: q.get('base')});
    box.appendChild(el('h1', {}, d.subject || d.sha.slice(0, 12)));
    box.appendChild(el('p', {class: 'none'}, 'commit ', el('code', {}, d.sha), ' by ', d.author, ' <', d.email, '>, ', when(d.time),
      d.base ? [' · against ', link(d.base.slice(0, 8), 'commit', {rev: d.base})] : null,
      ' · ', link('compare', 'compare', {rev: d.base ? [d.base, d.sha] : [d.sha]})));
    box.appendChild(el('pre', {id: 'message'}, d.message));
    box.appendChild(el('h2', {}, 'Data changes'));
    if (!d.base) box.appendChild(el('p', {class: 'none'}, 'The first commit: nothing to compare with.'));
    else if (!d.changes.length) box.appendChild(el('p', {class: 'none'}, 'No tracked data changed.'));
    else box.appendChild(table(['path', 'change', 'size before', 'size after', 'note', ''], d.changes.map((c) => el('tr', {'data-path': c.path},
      td(c.path), td(c.kind), td(size(c.old_size), 'num'), td(size(c.new_size), 'num'), td(c.note || ''),
      td(c.table ? link('rows & schema', 'datadiff', {a: d.base, b: d.sha, path: c.path}) : ''))), {id: 'changes'}));
    box.appendChild(el('h2', {}, 'Lineage (gitml.lock)'));
    if (!d.lineage.length) box.appendChild(el('p', {class: 'none'}, 'No pipeline lock at this commit.'));
    for (const s of d.lineage) {
      if (s.error) { box.appendChild(el('p', {class: 'error'}, s.error)); continue; }
      box.appendChild(el('h3', {}, 'stage ', s.stage));
      box.appendChild(el('p', {}, el('code', {}, s.cmd || '')));
      const rows = [];
      s.deps.forEach((x) => rows.push(el('tr', {}, td('dep'), td(x.path), td((x.hash || x.md5 || '').slice(0, 16)))));
      for (const [file, vals] of Object.entries(s.params)) for (const [k, v] of Object.entries(vals)) rows.push(el('tr', {}, td('param'), td(file + ':' + k), td(fmt(v))));
      s.outs.forEach((x) => rows.push(el('tr', {}, td('out'), td(x.path), td((x.hash || x.md5 || '').slice(0, 16)))));
      box.appendChild(table(['', 'path', 'hash / value'], rows, {id: 'lineage-' + s.stage}));
    }
    if (d.models.length) {
      box.appendChild(el('h2', {}, 'Model versions at this commit'));
      box.appendChild(el('ul', {}, d.models.map((m) => el('li', {}, link(m.model + ' ' + m.version, 'model', {name: m.model}), m.stages.length ? ' (' + m.stages.join(', ') + ')' : ''))));
    }
    for (const kind of ['metrics', 'params']) {
      box.appendChild(el('h2', {}, kind === 'metrics' ? 'Metrics' : 'Params'));
      const entries = Object.entries(d[kind]);
      box.appendChild(entries.length ? table(['key', 'value'], entries.map(([k, v]) => el('tr', {}, td(k), td(fmt(v), 'num')))) : el('p', {class: 'none'}, 'None.'));
    }
  };

  VIEWS.datadiff = async function (box, q) {
    const p = {a: q.get('a'), b: q.get('b'), path: q.get('path'), key: q.get('key')};
    box.appendChild(el('h1', {}, 'Table ', p.path));
    box.appendChild(el('p', {class: 'none'}, link(p.a.slice(0, 8), 'commit', {rev: p.a}), ' → ', link(p.b.slice(0, 8), 'commit', {rev: p.b})));
    const keyIn = el('input', {type: 'text', id: 'key', value: p.key || '', placeholder: 'key columns (a,b) for row matching',
      onkeydown: (e) => { if (e.key === 'Enter') location.hash = href('datadiff', Object.assign({}, p, {key: e.target.value})); }});
    box.appendChild(el('div', {class: 'toolbar'}, keyIn));
    const d = await api('datadiff', p);
    box.appendChild(table(['rows before', 'rows after', 'added', 'removed', 'modified', 'unchanged', 'key'],
      [el('tr', {id: 'row-counts'}, td(fmt(d.rows.old), 'num'), td(fmt(d.rows.new), 'num'), td(fmt(d.rows_added), 'num'),
        td(fmt(d.rows_removed), 'num'), td(fmt(d.rows_modified), 'num'), td(fmt(d.rows_unchanged), 'num'), td((d.key || []).join(', ')))]));
    box.appendChild(el('h2', {}, 'Schema'));
    const sch = d.schema || {};
    const srows = [];
    for (const [what, items] of Object.entries(sch)) for (const c of (items || [])) srows.push(el('tr', {}, td(what), td(typeof c === 'string' ? c : (c.name || JSON.stringify(c))), td(typeof c === 'object' && c.old ? c.old + ' → ' + c.new : (c.type || ''))));
    box.appendChild(srows.length ? table(['change', 'column', 'type'], srows, {id: 'schema'}) : el('p', {class: 'none', id: 'schema'}, 'Same columns and types.'));
    if ((d.changed_columns || []).length) box.appendChild(el('p', {}, 'Changed columns: ', d.changed_columns.map((c) => typeof c === 'string' ? c : JSON.stringify(c)).join(', ')));
    box.appendChild(el('h2', {}, 'Samples'));
    const samples = d.samples || {};
    let any = false;
    for (const [what, recs] of Object.entries(samples)) {
      if (!Array.isArray(recs) || !recs.length) continue;
      any = true;
      box.appendChild(el('h3', {}, what));
      const keys = [...new Set(recs.flatMap((r) => typeof r === 'object' && r ? Object.keys(r) : ['value']))];
      box.appendChild(table(keys, recs.map((r) => el('tr', {}, keys.map((k) => td(fmt(typeof r === 'object' && r ? r[k] : r)))))));
    }
    if (!any) box.appendChild(el('p', {class: 'none'}, 'No sample rows.'));
  };

  // -- models ----------------------------------------------------------------------------------
  VIEWS.models = async function (box) {
    const ms = await api('models');
    box.appendChild(el('h1', {}, 'Models'));
    if (!ms.length) { box.appendChild(el('p', {class: 'none'}, 'No models yet. Register one with: gitml model register NAME --version v1.0.0')); return; }
    box.appendChild(table(['model', 'latest', 'stages', 'path', 'description'], ms.map((m) => el('tr', {'data-model': m.name},
      td(link(m.name, 'model', {name: m.name})), td(m.latest || '-'),
      td(Object.entries(m.stages).map(([s, v]) => s + ': ' + v).join(', ') || '-'), td(m.path || '-'), td(m.description || ''))), {id: 'models'}));
  };

  VIEWS.model = async function (box, q) {
    const m = await api('model', {name: q.get('name')});
    box.appendChild(el('h1', {}, m.name));
    box.appendChild(el('p', {class: 'none'}, m.path || '', m.type ? ' · ' + m.type : '', m.description ? ' · ' + m.description : ''));
    box.appendChild(el('p', {}, 'latest: ', m.latest || '-', ' · ', Object.entries(m.stages).map(([s, v]) => s + ': ' + v).join(', ') || 'no stages'));
    box.appendChild(el('h2', {}, 'Versions'));
    box.appendChild(table(['version', 'commit', 'stages', 'registered', 'by', 'hash', 'size', 'message'], m.versions.map((v) => el('tr', {'data-version': v.version},
      td(v.version + (v.active ? '' : ' (deprecated)')), td(link(v.commit.slice(0, 8), 'commit', {rev: v.commit})), td(v.stages.join(', ')),
      td((v.registered_at || '').slice(0, 16).replace('T', ' ')), td(v.registered_by || ''), td((v.hash || v.problem || '').slice(0, 16)), td(size(v.size), 'num'), td(v.message || ''))), {id: 'versions'}));
    const commits = m.versions.map((v) => v.commit);
    if (commits.length > 1) box.appendChild(el('p', {}, link('compare these versions', 'compare', {rev: [...new Set(commits)]})));
    for (const kind of ['metrics', 'params']) {
      const keys = [...new Set(m.versions.flatMap((v) => Object.keys(v[kind] || {})))];
      if (!keys.length) continue;
      box.appendChild(el('h2', {}, kind === 'metrics' ? 'Metrics' : 'Params'));
      box.appendChild(table(['version', ...keys], m.versions.map((v) => el('tr', {}, td(v.version), keys.map((k) => td(fmt((v[kind] || {})[k]), 'num'))))));
    }
    box.appendChild(el('h2', {}, 'Trained on (gitml.lock at each version)'));
    const data = m.versions.flatMap((v) => (v.data || []).map((x) => el('tr', {}, td(v.version), td(x.stage), td(x.kind), td(x.path), td(String(x.hash).slice(0, 16)))));
    box.appendChild(data.length ? table(['version', 'stage', 'kind', 'path', 'hash'], data, {id: 'trained-on'}) : el('p', {class: 'none'}, 'No gitml.lock at these commits.'));
    box.appendChild(el('h2', {}, 'History'));
    box.appendChild(table(['when', 'who', 'action', 'version', 'stage', 'message'], m.history.map((e) => el('tr', {},
      td((e.when || '').slice(0, 19).replace('T', ' ')), td(e.who || ''), td(e.action), td(e.version || '-'), td(e.stage || '-'), td(e.message || ''))), {id: 'history'}));
  };

  render(false).then(poll);
})();
