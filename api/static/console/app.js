// The console: sign-in, then one view per hash route (#/queues, #/queue/<id>, …). Every number
// comes from the GraphQL API with the signed-in credential; the API decides what a caller sees.
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { ApiError, closeSubscriptions, cny, credential, gql, modelName, subscribe, utc, who } from "./api.js";
import { Chart } from "./chart.js";

const html = htm.bind(h);

const PAGES = [
  { route: "queues", label: "队列 · Queues", staff: false },
  { route: "liabilities", label: "负债报表 · Liabilities", staff: true },
  { route: "failed", label: "失败项 · Failed items", staff: true },
  { route: "team", label: "积分分红团队 · Points dividend teams", staff: true },
  { route: "appreciation", label: "消费增值价格 · Appreciation price", staff: true },
  { route: "compliance", label: "合规报告 · Compliance", staff: true },
];

function parseRoute() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || "queues", arg: rest.length ? decodeURIComponent(rest.join("/")) : null };
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const changed = () => setRoute(parseRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

// Runs `load` (an async function) when `deps` change: { data, error, loading, reload }.
function useQuery(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

function Status({ state, empty, children }) {
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (state.loading && !state.data) return html`<p class="loading" role="status">加载中 · Loading…</p>`;
  if (empty) return html`<p class="empty" role="status">${empty}</p>`;
  return children;
}

function ErrorBox({ error }) {
  return html`<div class="error" role="alert"><strong>出错了 · Error:</strong> ${error instanceof ApiError ? error.message : String(error)}</div>`;
}

function Heading({ children }) {
  // Focus moves to the page's heading when the route changes (keyboard and screen reader users).
  const ref = useRef(null);
  useEffect(() => { ref.current && ref.current.focus(); }, []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

// --- sign-in ------------------------------------------------------------------------------

function SignIn({ onSignedIn }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const given = value.trim();
    if (!given) { setError(new ApiError("请输入凭证 · Enter a credential")); return; }
    setBusy(true);
    credential.set(given);
    try {
      await gql("query SignIn { queueOverview(first: 1) { items { id } } }");
      onSignedIn(given);
    } catch (e) {
      credential.clear();
      setError(new ApiError(`登录失败 · Sign-in failed: ${e.message}`));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main id="main" class="signin">
      <${Heading}>返利引擎控制台 · Rebate console<//>
      <form onSubmit=${submit} aria-describedby="signin-help">
        <label for="credential">管理员密钥或商户令牌 · Admin API key or merchant token</label>
        <input id="credential" name="credential" type="password" autocomplete="off" value=${value} onInput=${(e) => setValue(e.target.value)}
               aria-invalid=${error ? "true" : "false"} required />
        <p id="signin-help" class="help">商户令牌：<code>rebate token merchant S1</code> · Merchant token: <code>rebate token merchant S1</code></p>
        <button type="submit" disabled=${busy}>${busy ? "登录中… · Signing in…" : "登录 · Sign in"}</button>
      </form>
      ${error && html`<${ErrorBox} error=${error} />`}
    </main>`;
}

// --- queues -------------------------------------------------------------------------------

const QUEUES = `query Queues($after: String, $first: Int) {
  queueOverview(after: $after, first: $first) { items { id model head tail waiting unpaid pool paused listed } pageInfo { endCursor hasNextPage } }
}`;

function states(q) {
  const out = [];
  if (q.paused === true) out.push(html`<span class="badge warn">暂停 · Paused</span>`);
  if (q.paused === false) out.push(html`<span class="badge ok">运行 · Running</span>`);
  if (q.listed === true) out.push(html`<span class="badge ok">上架 · Listed</span>`);
  if (q.listed === false) out.push(html`<span class="badge warn">下架 · Delisted</span>`);
  return out.length ? out : "—";
}

function Queues() {
  const [cursors, setCursors] = useState([null]);
  const after = cursors[cursors.length - 1];
  const state = useQuery(() => gql(QUEUES, { after, first: 20 }), [after]);
  const rows = state.data ? state.data.queueOverview.items : [];
  const info = state.data && state.data.queueOverview.pageInfo;
  return html`
    <${Heading}>队列 · Queues<//>
    <${Status} state=${state} empty=${state.data && !rows.length && "没有队列 · No queues yet"}>
      <table>
        <caption>每个队列的进度、待付与资金池 · Each queue's positions, what it owes and its pool</caption>
        <thead><tr>
          <th scope="col">队列 · Queue</th><th scope="col">模式 · Model</th><th scope="col" class="num">队首 · Head</th><th scope="col" class="num">队尾 · Tail</th>
          <th scope="col" class="num">等待 · Waiting</th><th scope="col" class="num">未付 · Unpaid</th><th scope="col" class="num">资金池 · Pool</th><th scope="col">状态 · State</th>
        </tr></thead>
        <tbody>${rows.map((q) => html`
          <tr data-queue=${q.id}>
            <th scope="row"><a href=${`#/queue/${encodeURIComponent(q.id)}`}>${q.id}</a></th><td>${modelName(q.model)}</td>
            <td class="num">${q.head}</td><td class="num">${q.tail}</td><td class="num">${q.waiting}</td>
            <td class="num">${cny(q.unpaid)}</td><td class="num">${cny(q.pool)}</td><td>${states(q)}</td>
          </tr>`)}
        </tbody>
      </table>
    <//>
    <nav class="pager" aria-label="分页 · Pages">
      <button type="button" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>上一页 · Previous</button>
      <button type="button" disabled=${!info || !info.hasNextPage} onClick=${() => setCursors([...cursors, info.endCursor])}>下一页 · Next</button>
    </nav>`;
}

// --- one queue, live ----------------------------------------------------------------------

const PROGRESS = `query Progress($queue: String!, $after: String) {
  queueProgress(queue: $queue, first: 50, after: $after) {
    queue { id model head tail pool } pendingCount pendingAmount modelDisplayName
    waiting { items { key member memberNickname position total received remaining status } pageInfo { endCursor hasNextPage } }
  }
}`;
const PAYOUTS = `subscription Payouts($queue: String!) { payouts(queue: $queue) { member amount key queue version event kind } }`;

function percent(received, total) {
  // both are decimal strings with 2 decimals: compare them in fen, as integers
  const fen = (v) => BigInt(String(v).replace(".", "").replace(/^(-?)0+(?=\d)/, "$1"));
  const t = fen(total);
  return t > 0n ? Number((fen(received) * 100n) / t) : 0;
}

function Queue({ id }) {
  const [after, setAfter] = useState(null);
  const state = useQuery(() => gql(PROGRESS, { queue: id, after }), [id, after]);
  const [feed, setFeed] = useState([]);
  const [live, setLive] = useState({ status: "connecting", error: null });
  const reload = useRef(null);
  reload.current = state.reload;
  useEffect(() => {
    setFeed([]);
    setLive({ status: "connecting", error: null });
    const stop = subscribe(PAYOUTS, { queue: id }, {
      onData: (data) => {
        setLive({ status: "live", error: null });
        setFeed((f) => [data.payouts, ...f].slice(0, 20));
        reload.current();
      },
      onError: (error) => setLive({ status: "error", error }),
      connected: () => setLive((l) => (l.status === "error" ? l : { status: "live", error: null })),
    });
    return stop;
  }, [id]);
  const progress = state.data && state.data.queueProgress;
  const entries = progress ? progress.waiting.items : [];
  return html`
    <${Heading}>队列进度 · Queue progress: ${id}<//>
    <${Status} state=${state} empty=${state.data && !progress && "没有这个队列 · No such queue"}>
      ${progress && html`
        <dl class="summary">
          <div><dt>模式 · Model</dt><dd>${progress.queue ? modelName(progress.queue.model) : progress.modelDisplayName}</dd></div>
          <div><dt>队首 / 队尾 · Head / tail</dt><dd>${progress.queue ? `${progress.queue.head} / ${progress.queue.tail}` : "—"}</dd></div>
          <div><dt>等待 · Waiting</dt><dd data-testid="pending-count">${progress.pendingCount ?? "—"}</dd></div>
          <div><dt>待奖励金额 · Pending amount</dt><dd data-testid="pending-amount">${cny(progress.pendingAmount)}</dd></div>
          <div><dt>资金池 · Pool</dt><dd>${progress.queue ? cny(progress.queue.pool) : "—"}</dd></div>
        </dl>
        ${entries.length ? html`
          <table>
            <caption>等待中的权益（从队首起） · Waiting entitlements from the head</caption>
            <thead><tr><th scope="col" class="num">位置 · Position</th><th scope="col">会员 · Member</th><th scope="col" class="num">总额 · Total</th>
              <th scope="col" class="num">已收 · Received</th><th scope="col" class="num">待收 · Remaining</th><th scope="col">进度 · Progress</th></tr></thead>
            <tbody>${entries.map((e) => html`
              <tr data-entitlement=${e.key}>
                <td class="num">${e.position ?? "—"}</td><td>${e.member ?? "—"}${e.memberNickname ? ` (${e.memberNickname})` : ""}</td>
                <td class="num">${cny(e.total)}</td><td class="num">${cny(e.received)}</td><td class="num">${cny(e.remaining)}</td>
                <td>${e.total !== null && e.received !== null ? html`
                  <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent(e.received, e.total)}
                       aria-label=${`已收 ${cny(e.received)} / ${cny(e.total)} · received of total`}>
                    <span style=${{ width: `${percent(e.received, e.total)}%` }}></span></div>` : "—"}</td>
              </tr>`)}
            </tbody>
          </table>
          <nav class="pager" aria-label="分页 · Pages">
            <button type="button" disabled=${after === null} onClick=${() => setAfter(null)}>回到队首 · Back to the head</button>
            <button type="button" disabled=${!progress.waiting.pageInfo.hasNextPage} onClick=${() => setAfter(progress.waiting.pageInfo.endCursor)}>下一页 · Next</button>
          </nav>` : html`<p class="empty" role="status">没有等待中的权益 · Nothing waiting</p>`}`}
    <//>
    <section aria-labelledby="feed-title" class="feed">
      <h2 id="feed-title">最新返利 · Latest payouts
        <span class=${`live ${live.status}`}>${live.status === "error" ? "断开 · Disconnected" : live.status === "live" ? "实时 · Live" : "连接中 · Connecting"}</span></h2>
      ${live.error && html`<${ErrorBox} error=${live.error} />`}
      <ol aria-live="polite" data-testid="payout-feed">
        ${feed.length ? feed.map((p) => html`<li data-payout=${p.key}><strong>${cny(p.amount)}</strong> → ${p.member}
          <span class="meta">${p.kind || "payout"} · 票据 ticket ${p.event} · v${p.version}</span></li>`)
        : html`<li class="empty">还没有返利 · No payouts since the page opened</li>`}
      </ol>
    </section>`;
}

// --- liabilities --------------------------------------------------------------------------

const LIABILITIES = `query Liabilities {
  liabilities { queue outstanding unpaid pool expectedWaitDays last7Days { promised paid poolInflow poolPayout } }
  liabilityDays(days: 30) { day flow { promised paid poolInflow poolPayout } }
}`;

function Liabilities() {
  const state = useQuery(() => gql(LIABILITIES), []);
  const rows = state.data ? state.data.liabilities : [];
  const days = state.data ? state.data.liabilityDays : [];
  const series = [
    { label: "资金池流入 · Pool inflow", stroke: "#1d4ed8", values: days.map((d) => d.flow.poolInflow) },
    { label: "返利支付 · Payouts", stroke: "#b91c1c", values: days.map((d) => d.flow.paid) },
  ];
  return html`
    <${Heading}>负债报表 · Liability report (I-5)<//>
    <${Status} state=${state} empty=${state.data && !rows.length && "还没有负债 · No liabilities yet"}>
      <figure>
        <${Chart} title="近 30 天流入与支付 · Inflow vs payouts, last 30 days (UTC, CNY)" x=${days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000)} series=${series} />
        <figcaption>每日资金池流入与返利支付 · Per UTC day: what the pools took in and what the liabilities paid out</figcaption>
      </figure>
      <table>
        <caption>每个队列与资金池 · Per queue and pool</caption>
        <thead><tr><th scope="col">队列 · Queue</th><th scope="col" class="num">未结权益 · Outstanding</th><th scope="col" class="num">未付 · Unpaid</th>
          <th scope="col" class="num">资金池 · Pool</th><th scope="col" class="num">近7天流入 · Inflow 7d</th><th scope="col" class="num">近7天支付 · Paid 7d</th>
          <th scope="col" class="num">预计等待（天） · Expected wait (days)</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr>
          <th scope="row">${r.queue}</th><td class="num">${r.outstanding}</td><td class="num">${cny(r.unpaid)}</td><td class="num">${cny(r.pool)}</td>
          <td class="num">${cny(r.last7Days.poolInflow)}</td><td class="num">${cny(r.last7Days.paid)}</td><td class="num">${r.expectedWaitDays ?? "—"}</td></tr>`)}
        </tbody>
      </table>
    <//>`;
}

// --- failed items -------------------------------------------------------------------------

const FAILED = `query Failed($after: String) { failedItems(first: 50, after: $after) { items { id queue eventKey type error attempts failedAt } pageInfo { endCursor hasNextPage } } }`;
const RETRY = `mutation Retry($id: ID!) { retryFailedItem(id: $id) { queue errors { code message } } }`;

function Failed() {
  const [after, setAfter] = useState(null);
  const state = useQuery(() => gql(FAILED, { after }), [after]);
  const [notice, setNotice] = useState(null);
  const rows = state.data ? state.data.failedItems.items : [];
  const retry = async (item) => {
    try {
      const out = (await gql(RETRY, { id: item.id })).retryFailedItem;
      setNotice(out.errors.length ? { error: new ApiError(out.errors.map((e) => e.message).join("; ")) }
        : { text: `已重试 · Retried item ${item.id}: queue ${out.queue} settles it at its next drain` });
      state.reload();
    } catch (error) {
      setNotice({ error });
    }
  };
  return html`
    <${Heading}>失败项 · FAILED settlement items<//>
    ${notice && (notice.error ? html`<${ErrorBox} error=${notice.error} />` : html`<p class="notice" role="status">${notice.text}</p>`)}
    <${Status} state=${state} empty=${state.data && !rows.length && "没有失败项 · No FAILED items"}>
      <table>
        <caption>结算失败、已隔离的收件项 · Inbox items settlement isolated as FAILED</caption>
        <thead><tr><th scope="col">编号 · Id</th><th scope="col">队列 · Queue</th><th scope="col">事件 · Event</th><th scope="col">错误 · Error</th>
          <th scope="col" class="num">尝试 · Attempts</th><th scope="col">失败时间 · Failed at</th><th scope="col"><span class="sr-only">操作 · Action</span></th></tr></thead>
        <tbody>${rows.map((i) => html`<tr>
          <th scope="row">${i.id}</th><td>${i.queue}</td><td>${i.type} ${i.eventKey}</td><td>${i.error || "—"}</td><td class="num">${i.attempts}</td>
          <td>${utc(i.failedAt)}</td>
          <td><button type="button" onClick=${() => retry(i)} aria-label=${`重试 ${i.id} · Retry item ${i.id}`}>重试 · Retry</button></td></tr>`)}
        </tbody>
      </table>
      <nav class="pager" aria-label="分页 · Pages">
        <button type="button" disabled=${after === null} onClick=${() => setAfter(null)}>第一页 · First page</button>
        <button type="button" disabled=${!state.data || !state.data.failedItems.pageInfo.hasNextPage}
                onClick=${() => setAfter(state.data.failedItems.pageInfo.endCursor)}>下一页 · Next</button>
      </nav>
    <//>`;
}

// --- points dividend team tree ------------------------------------------------------------

const MEMBER_FIELDS = "member referrer depth teamSize teamPerformance tier";
const OVERVIEW = `query Teams { pointsDividendOverview(first: 10) { largestTeams { ${MEMBER_FIELDS} } tierCounts { tier members } } }`;
const TEAM = `query Team($member: ID!, $after: String) { team(member: $member, first: 20, after: $after) { member { ${MEMBER_FIELDS} } directReferrals { ${MEMBER_FIELDS} } endCursor } }`;

function TeamNode({ node, level }) {
  const [open, setOpen] = useState(false);
  const [children, setChildren] = useState({ items: [], cursor: null, error: null, loaded: false });
  const load = async (after) => {
    try {
      const team = (await gql(TEAM, { member: node.member, after })).team;
      setChildren((c) => ({ items: [...(after ? c.items : []), ...(team ? team.directReferrals : [])], cursor: team ? team.endCursor : null, error: null, loaded: true }));
    } catch (error) {
      setChildren((c) => ({ ...c, error, loaded: true }));
    }
  };
  const toggle = () => { if (!open && !children.loaded) load(null); setOpen(!open); };
  return html`
    <li data-member=${node.member} data-level=${level}>
      <div class="node">
        <button type="button" class="twisty" onClick=${toggle} aria-expanded=${String(open)} aria-label=${`${open ? "收起" : "展开"} ${node.member} · ${open ? "collapse" : "expand"} direct referrals`}>${open ? "▾" : "▸"}</button>
        <strong>${node.member}</strong>
        <span>团队 · team ${node.teamSize}</span><span>业绩 · performance ${cny(node.teamPerformance)}</span>
        <span class="badge">${node.tier ? `等级 · tier ${node.tier}` : "无等级 · no tier"}</span>
      </div>
      ${open && html`<ul aria-label=${`${node.member} 的直推 · direct referrals of ${node.member}`}>
        ${children.error && html`<li><${ErrorBox} error=${children.error} /></li>`}
        ${children.items.map((c) => html`<${TeamNode} key=${c.member} node=${c} level=${level + 1} />`)}
        ${children.loaded && !children.items.length && !children.error && html`<li class="empty">没有直推 · No direct referrals</li>`}
        ${children.cursor && html`<li><button type="button" onClick=${() => load(children.cursor)}>更多直推 · More referrals</button></li>`}
      </ul>`}
    </li>`;
}

function Team() {
  const state = useQuery(() => gql(OVERVIEW), []);
  const [member, setMember] = useState("");
  const [root, setRoot] = useState(null);
  const find = async (event) => {
    event.preventDefault();
    try {
      const team = (await gql(TEAM, { member: member.trim(), after: null })).team;
      setRoot(team ? { node: team.member } : { error: new ApiError(`没有这个会员 · No such member: ${member}`) });
    } catch (error) {
      setRoot({ error });
    }
  };
  const overview = state.data && state.data.pointsDividendOverview;
  return html`
    <${Heading}>积分分红团队 · Points dividend team tree<//>
    <form class="inline" onSubmit=${find}>
      <label for="team-member">会员编号 · Member id</label>
      <input id="team-member" value=${member} onInput=${(e) => setMember(e.target.value)} required />
      <button type="submit">查看团队 · Show team</button>
    </form>
    ${root && (root.error ? html`<${ErrorBox} error=${root.error} />`
      : html`<ul aria-label="所选会员的团队 · The chosen member's team" class="tree" data-testid="chosen-team"><${TeamNode} key=${root.node.member} node=${root.node} level=${1} /></ul>`)}
    <${Status} state=${state} empty=${overview && !overview.largestTeams.length && "还没有团队 · No teams yet"}>
      ${overview && html`
        <h2>最大的团队 · Largest teams</h2>
        <ul aria-label="最大的团队 · Largest teams" class="tree">
          ${overview.largestTeams.map((n) => html`<${TeamNode} key=${n.member} node=${n} level=${1} />`)}
        </ul>
        <h2>各等级人数 · Members per tier</h2>
        <ul class="tiers">${overview.tierCounts.map((t) => html`<li>${t.tier}: ${t.members}</li>`)}</ul>`}
    <//>`;
}

// --- appreciation -------------------------------------------------------------------------

const APPRECIATION = `query Appreciation {
  appreciationPool { balance circulating price }
  appreciationPriceHistory(first: 200) { items { at price cause } }
  appreciationNearExit(first: 20) { member points value spend exitPrice }
}`;

function Appreciation() {
  const state = useQuery(() => gql(APPRECIATION), []);
  const d = state.data;
  const prices = d ? d.appreciationPriceHistory.items : [];
  return html`
    <${Heading}>消费增值 · Consumption appreciation price<//>
    <${Status} state=${state}>
      ${d && html`
        <dl class="summary">
          <div><dt>资金池 · Pool</dt><dd>${cny(d.appreciationPool.balance)}</dd></div>
          <div><dt>流通积分 · Circulating points</dt><dd>${d.appreciationPool.circulating}</dd></div>
          <div><dt>当前价格 · Price</dt><dd>${cny(d.appreciationPool.price)}</dd></div>
        </dl>
        ${prices.length ? html`<figure>
            <${Chart} title="价格历史 · Price history (CNY per point)" x=${prices.map((p) => Date.parse(p.at) / 1000)}
                      series=${[{ label: "价格 · Price", stroke: "#047857", values: prices.map((p) => p.price) }]} />
            <figcaption>每次价格变动 · Every price change, oldest first</figcaption></figure>`
          : html`<p class="empty" role="status">还没有价格变动 · No price changes yet</p>`}
        <h2>接近强制出局的持有人 · Holders nearest to a forced exit</h2>
        ${d.appreciationNearExit.length ? html`<table data-testid="near-exit">
            <caption>出局价格最低者在前 · Lowest exit price first (CA-4)</caption>
            <thead><tr><th scope="col">会员 · Member</th><th scope="col" class="num">积分 · Points</th><th scope="col" class="num">价值 · Value</th>
              <th scope="col" class="num">消费 · Spend</th><th scope="col" class="num">出局价格 · Exit price</th></tr></thead>
            <tbody>${d.appreciationNearExit.map((x) => html`<tr><th scope="row">${x.member}</th><td class="num">${x.points}</td><td class="num">${cny(x.value)}</td>
              <td class="num">${cny(x.spend)}</td><td class="num">${cny(x.exitPrice)}</td></tr>`)}</tbody></table>`
          : html`<p class="empty" role="status">没有持有人 · No holders</p>`}`}
    <//>`;
}

// --- compliance ---------------------------------------------------------------------------

function Compliance() {
  const state = useQuery(() => gql("query Compliance { complianceReport { model setting value limit status } }"), []);
  const rows = state.data ? state.data.complianceReport : [];
  return html`
    <${Heading}>合规报告 · Compliance report (DR-7)<//>
    <${Status} state=${state} empty=${state.data && !rows.length && "没有超出合规限制的设置 · No setting beyond the compliance limits"}>
      <table>
        <caption>超出合规限制的设置 · Settings beyond the compliance limits</caption>
        <thead><tr><th scope="col">模式 · Model</th><th scope="col">设置 · Setting</th><th scope="col" class="num">值 · Value</th>
          <th scope="col" class="num">限制 · Limit</th><th scope="col">状态 · Status</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr><th scope="row">${modelName(r.model)}</th><td>${r.setting}</td><td class="num">${r.value}</td><td class="num">${r.limit}</td>
          <td><span class=${`badge ${r.status === "WARN" ? "warn" : ""}`}>${r.status}</span></td></tr>`)}</tbody>
      </table>
    <//>`;
}

// --- the shell ----------------------------------------------------------------------------

function App() {
  const [signedIn, setSignedIn] = useState(credential.get());
  const route = useRoute();
  if (!signedIn) return html`<${SignIn} onSignedIn=${setSignedIn} />`;
  const caller = who(signedIn);
  const staff = caller.role === "STAFF";
  const signOut = () => { closeSubscriptions(); credential.clear(); setSignedIn(null); };
  const pages = PAGES.filter((p) => staff || !p.staff);
  const view = {
    queues: () => html`<${Queues} />`,
    queue: () => html`<${Queue} id=${route.arg} />`,
    liabilities: () => html`<${Liabilities} />`,
    failed: () => html`<${Failed} />`,
    team: () => html`<${Team} />`,
    appreciation: () => html`<${Appreciation} />`,
    compliance: () => html`<${Compliance} />`,
  }[route.name];
  const current = route.name === "queue" ? "queues" : route.name;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>跳到内容 · Skip to content</a>
    <header>
      <span class="brand">返利引擎控制台 · Rebate console</span>
      <nav aria-label="主菜单 · Main"><ul>
        ${pages.map((p) => html`<li><a href=${`#/${p.route}`} aria-current=${current === p.route ? "page" : undefined}>${p.label}</a></li>`)}
      </ul></nav>
      <span class="who">${staff ? "管理员 · Staff" : caller.role === "MERCHANT" ? `商户 · Merchant ${caller.subject}` : caller.role}</span>
      <button type="button" onClick=${signOut}>退出 · Sign out</button>
    </header>
    <main id="main" tabindex="-1">
      ${view ? view() : html`<${Heading}>找不到页面 · Page not found<//><p><a href="#/queues">队列 · Queues</a></p>`}
    </main>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading…" placeholder of the static page
render(html`<${App} />`, root);
