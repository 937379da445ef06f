/* ssai-rig demo page: an hls.js player of the rig's SSAI / SGAI / passthrough streams.
 *
 * Query parameters: base (stitcher URL, default this page's origin), mode (ssai|sgai|passthrough),
 * channel, autoplay=0, muted=0, debug=1 (hls.js debug logs to the console), hls=cdn (skip the
 * local build), config={json} (overrides of hls.js options; the page itself runs hls.js with its defaults).
 * Everything the page measures is on `window.rigDemo` (read by tests/test_browser.py); times `t`
 * are epoch seconds (comparable with the break records), `at` is the video's currentTime.
 * Plain ES2017, no build step. Server data is only ever written with textContent.
 */
(function () {
  'use strict';

  // The full build (interstitials are not in hls.light). Keep the version equal to package.json's pin.
  var HLSJS_LOCAL = 'hls.js';
  var HLSJS_CDN = 'https://cdn.jsdelivr.net/npm/hls.js@1.7.4/dist/hls.js';
  var MODES = ['ssai', 'sgai', 'passthrough'];
  var AD_URL = /\/(ads|slate)\//;
  var KEEP = 500; // longest list kept on rigDemo

  var params = new URLSearchParams(location.search);
  var base = (params.get('base') || location.origin).replace(/\/+$/, '');
  var state = {
    mode: MODES.indexOf(params.get('mode')) >= 0 ? params.get('mode') : 'ssai',
    channel: params.get('channel') || 'news',
  };
  var autoplay = params.get('autoplay') !== '0';
  var muted = params.get('muted') !== '0';
  var debug = params.get('debug') === '1';
  // hls.js as any site would run it: its defaults, interstitialAppendInPlace (true) included - an
  // interstitial whose start and end line up with the primary's segments is appended in place,
  // into the primary's media buffers, so the splices must be seamless for it. config={json}
  // overrides options for experiments (e.g. {"interstitialAppendInPlace":false}).
  var hlsConfig = {};
  try { hlsConfig = Object.assign(hlsConfig, JSON.parse(params.get('config') || '{}')); } catch (err) { console.error('config= is not JSON: ' + err); }

  var video = document.getElementById('video');
  var hls = null;
  var demo = null;
  var breaksTimer = null;

  function $(id) { return document.getElementById(id); }
  function now() { return Date.now() / 1000; }
  function push(list, item) { list.push(item); if (list.length > KEEP) list.splice(0, list.length - KEEP); return item; }
  function text(el, value) { el.textContent = value; return el; }
  function el(tag, value, cls) { var e = document.createElement(tag); if (value !== undefined) e.textContent = value; if (cls) e.className = cls; return e; }
  function round(x, n) { return x == null || isNaN(x) ? null : Math.round(x * Math.pow(10, n)) / Math.pow(10, n); }
  function logLine(listId, line, cls) {
    var list = $(listId);
    var item = el('li', new Date().toISOString().slice(11, 23) + '  ' + line, cls);
    list.insertBefore(item, list.firstChild);
    while (list.childNodes.length > 200) list.removeChild(list.lastChild);
  }

  function freshCounters() {
    var previous = window.rigDemo || {};
    return {
      base: base, mode: state.mode, channel: state.channel, url: null,
      ready: !!previous.ready, hlsSource: previous.hlsSource || null, hlsVersion: previous.hlsVersion || null, loadedAt: now(),
      errors: [], warnings: [], levelParsingErrors: 0, fatal: null,
      stalls: 0, waiting: 0, playing: false,
      waitingEvents: [], // every `waiting` of the video element: {t, at, afterPlaying, inInterstitial}; `waiting` counts those after the first `playing`
      configOverrides: hlsConfig, // what config= changed of hls.js's defaults
      interstitialsScheduled: [], assetListsLoaded: [],
      interstitialsStarted: [], interstitialsEnded: [], assetsStarted: [], assetsEnded: [], assetErrors: [], primaryResumed: [],
      fragments: [], assetFragments: [], currentFragment: null, playingAd: false, inInterstitial: null,
      // every primary segment buffered: where hls.js put its picture and its sound (media seconds), see onPrimaryBuffered
      primaryBuffered: [],
      currentTime: 0, integratedTime: null, latency: null, playingDate: null, bufferAhead: null,
      longestFreeze: 0, frozenFor: 0, // seconds currentTime did not change (from its first advance; 4 samples a second)
      breaks: [], breaksSeen: [], breaksError: null,
    };
  }

  // ---------------------------------------------------------------- hls.js loading (local, else CDN)

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { s.remove(); reject(new Error('cannot load ' + src)); };
      document.head.appendChild(s);
    });
  }

  function loadHls() {
    var local = params.get('hls') === 'cdn' ? Promise.reject(new Error('local build skipped')) : loadScript(HLSJS_LOCAL);
    return local.then(function () { return 'local'; }, function () {
      return loadScript(HLSJS_CDN).then(function () { return 'cdn'; });
    });
  }

  // ---------------------------------------------------------------- the player

  function hlsLogger() {
    // hls.js says what is wrong with a playlist in its warnings (e.g. a reload it rejects): keep them.
    function keep(level) {
      return function () {
        var line = Array.prototype.map.call(arguments, String).join(' ');
        push(demo.warnings, { t: now(), level: level, message: line });
        logLine('errorlog', level + ': ' + line, level === 'error' ? 'error' : 'warn');
        (level === 'error' ? console.error : console.warn).call(console, line);
      };
    }
    var quiet = function () {};
    var chatty = function () { console.log.apply(console, arguments); };
    return { trace: quiet, debug: debug ? chatty : quiet, log: debug ? chatty : quiet, info: debug ? chatty : quiet, warn: keep('warn'), error: keep('error') };
  }

  function fragmentUrl(frag) { return frag ? (frag.url || frag.relurl || '') : ''; }

  function onFragChanged(source) {
    return function (event, data) {
      var frag = data.frag;
      var url = fragmentUrl(frag);
      var ad = AD_URL.test(url);
      var record = push(demo.fragments, {
        t: now(), at: round(video.currentTime, 3), url: url, ad: ad, player: source,
        sn: frag.sn, cc: frag.cc, level: frag.level, duration: round(frag.duration, 3),
        programDateTime: frag.programDateTime ? new Date(frag.programDateTime).toISOString() : null,
        // a primary segment hls.js reports while an interstitial plays over it (SGAI): not what is seen
        underInterstitial: source === 'primary' && demo.inInterstitial !== null,
      });
      demo.currentFragment = record;
      showKind(url);
    };
  }

  function showKind(url) {
    var interstitial = demo.inInterstitial !== null;
    var ad = interstitial || AD_URL.test(url || '');
    demo.playingAd = ad;
    var kind = $('kind');
    text(kind, interstitial ? 'AD (interstitial)' : ad ? (/\/slate\//.test(url) ? 'SLATE' : 'AD') : 'content');
    kind.className = ad ? 'ad' : 'content';
    if (url) text($('frag'), url);
  }

  // Where the sound of each primary segment ends against its picture matters at an in-place
  // interstitial: hls.js 1.7.4 waits for the primary to be buffered to the interstitial's start
  // (InterstitialsController.updateBufferedPos, 10 ms of slack) as estimated from the segment
  // before (audio or video, whichever ends later); tests/test_browser.py reports it per break.
  function onPrimaryBuffered(event, data) {
    var frag = data.frag;
    var es = frag.elementaryStreams || {};
    push(demo.primaryBuffered, {
      t: now(), sn: frag.sn, programDateTime: frag.programDateTime ? new Date(frag.programDateTime).toISOString() : null,
      videoEnd: es.video ? round(es.video.endPTS, 6) : null, audioEnd: es.audio ? round(es.audio.endPTS, 6) : null,
    });
  }

  function onAssetFragBuffered(player) {
    return function (event, data) {
      var url = fragmentUrl(data.frag);
      push(demo.assetFragments, { t: now(), at: round(video.currentTime, 3), url: url, ad: AD_URL.test(url), sn: data.frag.sn, asset: player.assetId });
    };
  }

  function errorRecord(data, source) {
    var url = data.url || (data.frag && fragmentUrl(data.frag)) || (data.context && data.context.url) || null;
    return {
      t: now(), at: round(video.currentTime, 3), player: source, type: data.type, details: data.details, fatal: !!data.fatal,
      reason: data.reason || null, message: data.error ? String(data.error.message || data.error) : null,
      url: url, code: data.response ? data.response.code : null,
    };
  }

  function onError(source) {
    return function (event, data) {
      var record = push(demo.errors, errorRecord(data, source));
      if (data.details === 'levelParsingError') demo.levelParsingErrors += 1;
      if (data.details === 'bufferStalledError') demo.stalls += 1;
      if (data.fatal && source === 'primary' && !demo.fatal) demo.fatal = record;
      text($('errcount'), demo.errors.length);
      text($('lpe'), demo.levelParsingErrors);
      text($('stalls'), demo.stalls);
      logLine('errorlog', (record.fatal ? 'FATAL ' : '') + source + ' ' + record.type + ' ' + record.details +
        (record.reason ? ': ' + record.reason : '') + (record.message ? ' (' + record.message + ')' : '') + (record.url ? ' ' + record.url : ''),
        record.fatal ? 'error' : 'warn');
    };
  }

  function interstitialInfo(ev) {
    return ev ? {
      id: ev.identifier, startDate: ev.startDate ? ev.startDate.toISOString() : null, startTime: round(ev.startTime, 3),
      duration: round(ev.duration, 3), resumeOffset: round(ev.resumeOffset, 3), appendInPlace: !!ev.appendInPlace,
    } : {};
  }

  function assetInfo(asset) {
    return asset ? { asset: asset.identifier, uri: asset.uri, duration: asset.duration, startOffset: round(asset.startOffset, 3) } : {};
  }

  function note(list, record, line) {
    record.t = now();
    record.at = round(video.currentTime, 3);
    push(list, record);
    logLine('eventlog', line);
  }

  function wireInterstitials(E) {
    if (!E.INTERSTITIAL_STARTED) return; // an hls.js without interstitials
    hls.on(E.INTERSTITIALS_UPDATED, function (event, data) {
      data.events.forEach(function (ev) {
        if (demo.interstitialsScheduled.some(function (s) { return s.id === ev.identifier; })) return;
        note(demo.interstitialsScheduled, interstitialInfo(ev), 'scheduled ' + ev.identifier + ' at ' + (ev.startDate ? ev.startDate.toISOString() : '?'));
      });
    });
    hls.on(E.ASSET_LIST_LOADED, function (event, data) {
      var assets = ((data.assetListResponse && data.assetListResponse.ASSETS) || []).map(function (a) { return { uri: a.URI, duration: a.DURATION }; });
      note(demo.assetListsLoaded, { id: data.event.identifier, assets: assets }, 'asset list ' + data.event.identifier + ': ' + assets.length + ' assets');
    });
    hls.on(E.INTERSTITIAL_STARTED, function (event, data) {
      var info = interstitialInfo(data.event);
      demo.inInterstitial = info.id;
      note(demo.interstitialsStarted, info, 'STARTED ' + info.id + (info.appendInPlace ? ' (append in place)' : ''));
      showKind(null);
    });
    hls.on(E.INTERSTITIAL_ASSET_PLAYER_CREATED, function (event, data) {
      data.player.on(E.FRAG_CHANGED, onFragChanged('asset'));
      data.player.on(E.FRAG_BUFFERED, onAssetFragBuffered(data.player));
      data.player.on(E.ERROR, onError('asset'));
    });
    hls.on(E.INTERSTITIAL_ASSET_STARTED, function (event, data) {
      var info = Object.assign({ id: data.event.identifier, index: data.assetListIndex }, assetInfo(data.asset));
      note(demo.assetsStarted, info, 'asset started ' + info.index + ' ' + info.uri);
    });
    hls.on(E.INTERSTITIAL_ASSET_ENDED, function (event, data) {
      var info = Object.assign({ id: data.event.identifier, index: data.assetListIndex }, assetInfo(data.asset));
      note(demo.assetsEnded, info, 'asset ended ' + info.index);
    });
    hls.on(E.INTERSTITIAL_ASSET_ERROR, function (event, data) {
      var info = Object.assign({ id: data.event ? data.event.identifier : null, index: data.assetListIndex, message: data.error ? String(data.error.message || data.error) : null }, assetInfo(data.asset));
      note(demo.assetErrors, info, 'asset ERROR ' + info.index + ': ' + info.message);
    });
    hls.on(E.INTERSTITIAL_ENDED, function (event, data) {
      var info = interstitialInfo(data.event);
      demo.inInterstitial = null;
      note(demo.interstitialsEnded, info, 'ENDED ' + info.id);
      showKind(demo.currentFragment && demo.currentFragment.url);
    });
    hls.on(E.INTERSTITIALS_PRIMARY_RESUMED, function (event, data) {
      note(demo.primaryResumed, { scheduleIndex: data.scheduleIndex }, 'primary resumed');
    });
  }

  function streamUrl() {
    return base + '/' + state.mode + '/' + encodeURIComponent(state.channel) + '/master.m3u8';
  }

  function play() {
    if (hls) { hls.destroy(); hls = null; }
    demo = window.rigDemo = freshCounters();
    ['eventlog', 'errorlog'].forEach(function (id) { $(id).textContent = ''; });
    var url = demo.url = streamUrl();
    text($('url'), url);
    history.replaceState(null, '', '?' + queryString());
    video.muted = muted;
    if (!window.Hls || !window.Hls.isSupported()) {
      demo.fatal = { t: now(), type: 'setup', details: 'hls.js cannot play here (no MediaSource)', fatal: true };
      logLine('errorlog', demo.fatal.details, 'error');
      return;
    }
    var E = window.Hls.Events;
    hls = new window.Hls(Object.assign({}, hlsConfig, { debug: hlsLogger() }));
    window.rigDemoHls = hls;
    hls.on(E.ERROR, onError('primary'));
    hls.on(E.FRAG_CHANGED, onFragChanged('primary'));
    hls.on(E.FRAG_BUFFERED, onPrimaryBuffered);
    video.autoplay = autoplay;
    hls.on(E.MANIFEST_PARSED, function () {
      if (autoplay) video.play().catch(function (err) { if (err.name !== 'AbortError') logLine('errorlog', 'play(): ' + err, 'warn'); });
    });
    wireInterstitials(E);
    hls.loadSource(url);
    hls.attachMedia(video);
    pollBreaks();
  }

  function queryString() {
    var q = new URLSearchParams(location.search);
    q.set('mode', state.mode);
    q.set('channel', state.channel);
    return q.toString();
  }

  // ---------------------------------------------------------------- live figures, 4 per second

  function bufferAhead() {
    var t = video.currentTime;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t + 0.1 && t <= video.buffered.end(i)) return video.buffered.end(i) - t;
    }
    return 0;
  }

  var lastTime = null, changedAt = null;

  function tick() {
    if (!demo) return;
    var t = performance.now() / 1000;
    if (demo.loadedAt !== tick.loadedAt) { tick.loadedAt = demo.loadedAt; lastTime = null; changedAt = null; }
    if (lastTime === null) {
      lastTime = video.currentTime;
    } else if (video.currentTime !== lastTime) {
      if (changedAt !== null) demo.longestFreeze = Math.max(demo.longestFreeze, round(t - changedAt, 3));
      lastTime = video.currentTime;
      changedAt = t;
    }
    demo.frozenFor = changedAt === null ? 0 : round(t - changedAt, 3);
    demo.currentTime = video.currentTime;
    demo.paused = video.paused;
    demo.bufferAhead = round(bufferAhead(), 3);
    if (hls) {
      demo.latency = round(hls.latency, 3);
      demo.playingDate = hls.playingDate ? hls.playingDate.toISOString() : null;
      var im = hls.interstitialsManager;
      demo.integratedTime = im && im.integrated ? round(im.integrated.currentTime, 3) : null;
    }
    text($('time'), video.currentTime.toFixed(2) + (demo.integratedTime != null ? '  (integrated ' + demo.integratedTime.toFixed(2) + ')' : ''));
    text($('latency'), demo.latency == null ? '-' : demo.latency.toFixed(2) + ' s');
    text($('pdt'), demo.playingDate || '-');
    text($('buffer'), demo.bufferAhead == null ? '-' : demo.bufferAhead.toFixed(2) + ' s');
    text($('freeze'), demo.longestFreeze.toFixed(2) + ' s' + (demo.frozenFor > 1 ? '  (frozen now: ' + demo.frozenFor.toFixed(1) + ' s)' : ''));
  }

  video.addEventListener('playing', function () { if (demo) demo.playing = true; });
  video.addEventListener('waiting', function () {
    if (!demo) return;
    push(demo.waitingEvents, { t: now(), at: round(video.currentTime, 3), afterPlaying: demo.playing, inInterstitial: demo.inInterstitial });
    if (demo.playing) demo.waiting += 1;
  });

  // ---------------------------------------------------------------- the break, polled every 2 s

  function showBreak(breaks) {
    var box = $('breakinfo');
    box.textContent = '';
    if (!breaks.length) { text(box, 'none announced'); box.className = 'dim'; return; }
    box.className = '';
    breaks.forEach(function (b) {
      var table = el('table');
      [['eventId', b.eventId], ['state', b.state], ['source', b.source], ['adStart', b.adStart], ['endTime', b.endTime], ['duration', b.duration + ' s']].forEach(function (row) {
        var tr = el('tr');
        tr.appendChild(el('th', row[0]));
        tr.appendChild(el('td', row[1] == null ? '-' : String(row[1])));
        table.appendChild(tr);
      });
      box.appendChild(table);
      var items = (b.decision && b.decision.items) || [];
      var pod = el('ol');
      items.forEach(function (item) { pod.appendChild(el('li', item.id + ' (' + (item.kind || 'ad') + ', ' + item.duration + ' s)')); });
      box.appendChild(el('div', 'pod ' + ((b.decision && b.decision.podId) || '-') + ':', 'dim'));
      box.appendChild(pod);
    });
  }

  function pollBreaks() {
    if (breaksTimer) clearTimeout(breaksTimer);
    var channel = state.channel;
    fetch(base + '/v1/channels/' + encodeURIComponent(channel) + '/breaks', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (body) {
        if (channel !== state.channel || !demo) return;
        demo.breaks = body.breaks || [];
        demo.breaks.forEach(function (b) { if (demo.breaksSeen.indexOf(b.eventId) < 0) demo.breaksSeen.push(b.eventId); });
        demo.breaksError = null;
        showBreak(demo.breaks);
      })
      .catch(function (err) { if (demo) demo.breaksError = String(err); text($('breakinfo'), 'breaks: ' + err); })
      .then(function () { breaksTimer = setTimeout(pollBreaks, 2000); });
  }

  // ---------------------------------------------------------------- controls

  function setupControls(channels) {
    var select = $('channel');
    select.textContent = '';
    if (channels.indexOf(state.channel) < 0) channels.push(state.channel);
    channels.forEach(function (slug) { var o = el('option', slug); o.value = slug; select.appendChild(o); });
    select.value = state.channel;
    select.addEventListener('change', function () { state.channel = select.value; play(); });
    Array.prototype.forEach.call(document.querySelectorAll('input[name=mode]'), function (radio) {
      radio.checked = radio.value === state.mode;
      radio.addEventListener('change', function () { if (radio.checked) { state.mode = radio.value; play(); } });
    });
    $('reload').addEventListener('click', play);
  }

  function listChannels() {
    return fetch(base + '/v1/channels', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (body) { return (body.channels || []).map(function (c) { return typeof c === 'string' ? c : c.slug; }).filter(Boolean); })
      .catch(function () { return []; }) // no channel list (yet): the `channel` parameter, or news
      .then(function (slugs) { return slugs.length ? slugs : ['news']; });
  }

  window.rigDemo = freshCounters();
  Promise.all([loadHls(), listChannels()]).then(function (results) {
    window.rigDemo.hlsSource = results[0];
    window.rigDemo.hlsVersion = window.Hls.version;
    text($('hlsinfo'), 'hls.js ' + window.Hls.version + ' (' + results[0] + ')');
    if (params.get('channel') === null && results[1].indexOf(state.channel) < 0) state.channel = results[1][0];
    setupControls(results[1]);
    play();
    window.rigDemo.ready = true;
    setInterval(tick, 250);
  }, function (err) {
    window.rigDemo.fatal = { t: now(), type: 'setup', details: String(err), fatal: true };
    text($('hlsinfo'), 'hls.js could not be loaded: ' + err);
  });
})();
