// Client-side search of the catalogue. The data comes from search-data.js
// (window.HSP_SEARCH), loaded with <script src> so that it works from file://.
// Without JavaScript the full list rendered in the page stays.
(function () {
  'use strict';
  var data = window.HSP_SEARCH;
  var form = document.getElementById('search');
  var list = document.getElementById('results');
  var count = document.getElementById('count');
  if (!data || !form || !list) return;
  var LIMIT = 200;
  var q = document.getElementById('q');
  var fIface = document.getElementById('f-interface');
  var fLicense = document.getElementById('f-license');
  var fPublisher = document.getElementById('f-publisher');
  var fYanked = document.getElementById('f-yanked');

  // [id, name, summary, publisher, licence, latest, yanked, provides, requires]
  var entries = data.services.map(function (s) {
    var pub = data.publishers[s[3]];
    var provides = s[7].map(function (i) { return data.interfaces[i]; });
    var requires = s[8].map(function (i) { return data.interfaces[i]; });
    return {
      id: s[0], name: s[1], summary: s[2], publisher: pub[0], publisherTitle: pub[1],
      license: s[4], latest: s[5], yanked: s[6] === 1, provides: provides, requires: requires,
      name_l: s[1].toLowerCase(), id_l: s[0].toLowerCase(),
      text: [s[0], s[1], s[2], pub[0], pub[1], s[4]].concat(provides, requires).join(' ').toLowerCase()
    };
  });

  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    q.value = params.get('q') || '';
    fIface.value = params.get('interface') || '';
    fLicense.value = params.get('license') || '';
    fPublisher.value = params.get('publisher') || '';
    fYanked.checked = params.get('yanked') === '1';
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (q.value) params.set('q', q.value);
    if (fIface.value) params.set('interface', fIface.value);
    if (fLicense.value) params.set('license', fLicense.value);
    if (fPublisher.value) params.set('publisher', fPublisher.value);
    if (fYanked.checked) params.set('yanked', '1');
    var h = params.toString();
    try { history.replaceState(null, '', h ? '#' + h : location.pathname + location.search); } catch (e) { /* ignore */ }
  }

  function score(e, tokens) {
    var total = 0;
    for (var i = 0; i < tokens.length; i++) {
      var t = tokens[i];
      if (e.text.indexOf(t) < 0) return -1;
      if (e.id_l === t || e.name_l === t) total += 10;
      if (e.name_l.indexOf(t) >= 0) total += 4;
      if (e.id_l.indexOf(t) >= 0) total += 2;
      if (e.provides.indexOf(t) >= 0) total += 3;
      total += 1;
    }
    return total;
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function card(e) {
    var li = el('li', 'card' + (e.yanked ? ' is-yanked' : ''));
    var h = el('h3');
    var a = el('a', null, e.name);
    a.href = 'services/' + e.id + '.html';
    h.appendChild(a);
    if (e.yanked) { h.appendChild(document.createTextNode(' ')); h.appendChild(el('span', 'badge yanked', 'yanked')); }
    li.appendChild(h);
    li.appendChild(el('p', 'summary', e.summary));
    var meta = el('p', 'meta');
    var code = el('code', null, e.id);
    meta.appendChild(code);
    meta.appendChild(document.createTextNode(' · ' + e.latest + ' · ' + e.license + ' · '));
    if (e.publisherTitle) {
      var pa = el('a', null, e.publisherTitle);
      pa.href = 'publishers/' + e.publisher + '.html';
      meta.appendChild(pa);
    } else {
      meta.appendChild(document.createTextNode(e.publisher));
    }
    if (e.provides.length) meta.appendChild(document.createTextNode(' · provides ' + e.provides.join(', ')));
    li.appendChild(meta);
    return li;
  }

  function update() {
    var tokens = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var iface = fIface.value, lic = fLicense.value, pub = fPublisher.value, yanked = fYanked.checked;
    var hits = [];
    var hidden = 0;
    for (var i = 0; i < entries.length; i++) {
      var e = entries[i];
      if (iface && e.provides.indexOf(iface) < 0 && e.requires.indexOf(iface) < 0) continue;
      if (lic && e.license !== lic) continue;
      if (pub && e.publisher !== pub) continue;
      var s = score(e, tokens);
      if (s < 0) continue;
      if (e.yanked && !yanked) { hidden++; continue; }
      hits.push({ e: e, s: s });
    }
    if (tokens.length) {
      hits.sort(function (a, b) { return b.s - a.s || (a.e.name < b.e.name ? -1 : a.e.name > b.e.name ? 1 : 0); });
    }
    var frag = document.createDocumentFragment();
    hits.slice(0, LIMIT).forEach(function (h) { frag.appendChild(card(h.e)); });
    list.replaceChildren(frag);
    var msg = hits.length === 1 ? '1 service' : hits.length + ' services';
    if (hits.length > LIMIT) msg += ', showing the first ' + LIMIT;
    if (hidden) msg += ' (' + hidden + ' yanked hidden)';
    count.textContent = msg;
    writeHash();
  }

  form.addEventListener('submit', function (ev) { ev.preventDefault(); update(); });
  q.addEventListener('input', update);
  [fIface, fLicense, fPublisher, fYanked].forEach(function (n) { n.addEventListener('change', update); });
  window.addEventListener('hashchange', function () { readHash(); update(); });
  readHash();
  update();
})();
