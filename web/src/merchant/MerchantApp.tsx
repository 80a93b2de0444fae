// The merchant back office (desktop layout; 004 §2.3): the shell picks the store (GET /me/merchants),
// holds the /merchant socket for the whole area — so the 订单 badge and the chime work on every
// screen — and routes to the screens. Every action is still checked by the API.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Link, Navigate, NavLink, Route, Routes, useNavigate } from "react-router";

import { http } from "../api/http";
import { realtime, type ConnectionState } from "../api/realtime";
import { Bell } from "../notifications/Bell";
import NotificationsPage from "../notifications/NotificationsPage";
import { useSession } from "../session";
import { common, conversations, courses, insights, merchant as t } from "../strings";
import { Loading, Page } from "../ui/kit";
import { type Merchant, type MyMerchant, type OrderPush } from "./api";
import { CataloguePage } from "./Catalogue";
import { CouponsPage } from "./Coupons";
import { MerchantContext, type LiveEvent, type MerchantContextValue } from "./context";
import { DashboardPage } from "./Dashboard";
import { GroupBuyCampaignsPage } from "./GroupBuyCampaigns";
import { GroupBuyOrdersPage } from "./GroupBuyOrders";
import "./merchant.css";
import { OrdersPage } from "./Orders";
import { Problem } from "./parts";
import { RegistrationPage, WizardForNewMerchant } from "./Registration";
import { SettingsPage } from "./Settings";
import { chime, unlockAudioOnGesture } from "./sound";
import { IncomePage, InvoicesPage, WithdrawPage } from "./MoneyOut";
import { StatementsPage } from "./Statements";

const InsightsPage = lazy(() => import("../insights/MerchantInsights"));
const MerchantConversations = lazy(() => import("../conversations/MerchantConversations"));
const MerchantCourses = lazy(() => import("../courses/MerchantCourses"));

const CHOSEN = "lago.merchant";
const LIVE_EVENTS = ["order:new", "order:paid", "order:refund_requested", "order:cancelled"] as const;
// Events that ask the merchant to act: they ring and count as unread.
const CALLS_FOR_ACTION = new Set<string>(["order:new", "order:paid", "order:refund_requested"]);

function storedChoice(): string | null {
  try {
    return window.localStorage.getItem(CHOSEN);
  } catch {
    return null;
  }
}

function storeChoice(id: string | null): void {
  try {
    if (id) window.localStorage.setItem(CHOSEN, id);
    else window.localStorage.removeItem(CHOSEN);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

export default function MerchantApp(): ReactNode {
  const [mine, setMine] = useState<MyMerchant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [chosen, setChosen] = useState<string | null>(storedChoice);

  const loadMine = useCallback(async (): Promise<MyMerchant[]> => {
    setError(null);
    try {
      const list = await http.get<MyMerchant[]>("/me/merchants");
      setMine(list);
      return list;
    } catch (e) {
      setError(e);
      throw e;
    }
  }, []);

  useEffect(() => {
    loadMine().catch(() => undefined);
  }, [loadMine]);

  const choose = useCallback((id: string | null) => {
    storeChoice(id);
    setChosen(id);
  }, []);

  /** After the wizard created a store: it becomes the chosen one, and the socket joins its room. */
  const created = useCallback(
    async (id: string) => {
      choose(id);
      await loadMine();
      // The /merchant connection joins its rooms on connect only: reconnect to hear the new store.
      realtime("/merchant").close();
    },
    [choose, loadMine],
  );

  if (error && !mine) {
    return (
      <Shell>
        <Page title={t.title}>
          <Problem error={error} />
          <button type="button" onClick={() => loadMine().catch(() => undefined)}>{common.retry}</button>
        </Page>
      </Shell>
    );
  }
  if (!mine) return <Shell><Loading /></Shell>;

  const current = mine.find((m) => m.id === chosen) ?? (mine.length === 1 ? mine[0] : undefined);
  return (
    <Routes>
      <Route path="apply" element={<Shell><WizardForNewMerchant onCreated={created} /></Shell>} />
      <Route
        path="*"
        element={
          mine.length === 0 ? (
            <Shell><Welcome /></Shell>
          ) : current ? (
            <Store key={current.id} my={current} mine={mine} onSwitch={() => choose(null)} />
          ) : (
            <Shell><Picker mine={mine} onChoose={choose} /></Shell>
          )
        }
      />
    </Routes>
  );
}

/** The frame without a store's navigation (welcome, picker, a new application). */
function Shell({ children }: { children: ReactNode }): ReactNode {
  const { me } = useSession();
  return (
    <div className="desktop merchant">
      <nav className="sidebar" aria-label={t.title}>
        <strong>{t.title}</strong>
        {me ? <span className="muted small">{me.display_name}</span> : null}
        <Link to="/merchant">{t.choose}</Link>
      </nav>
      <main className="desktop-main">{children}</main>
    </div>
  );
}

function Welcome(): ReactNode {
  return (
    <Page title={t.title}>
      <div className="card welcome">
        <h2>{t.none}</h2>
        <p className="muted">{t.noneHint}</p>
        <Link className="button primary" to="/merchant/apply">{t.register}</Link>
      </div>
    </Page>
  );
}

function Picker({ mine, onChoose }: { mine: MyMerchant[]; onChoose: (id: string) => void }): ReactNode {
  return (
    <Page title={t.choose}>
      <p className="muted">{t.chooseHint}</p>
      <ul className="list picker">
        {mine.map((m) => (
          <li key={m.id} className="card">
            <strong>{m.name}</strong>
            <span className="badge">{t.roles[m.role] ?? m.role}</span>
            <button type="button" className="primary" onClick={() => onChoose(m.id)}>
              {t.enter(m.name)}
            </button>
          </li>
        ))}
      </ul>
      <p><Link to="/merchant/apply">{t.registerAnother}</Link></p>
    </Page>
  );
}

/** One store's back office: its profile, the live order feed, the navigation and the screens. */
function Store({ my, mine, onSwitch }: { my: MyMerchant; mine: MyMerchant[]; onSwitch: () => void }): ReactNode {
  const [profile, setProfile] = useState<Merchant | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [unread, setUnread] = useState<ReadonlySet<string>>(new Set());
  const [state, setState] = useState<ConnectionState>("connecting");
  const listeners = useRef(new Set<(event: LiveEvent) => void>());
  const reconnectListeners = useRef(new Set<() => void>());
  const navigate = useNavigate();
  const { logout } = useSession();

  const reloadProfile = useCallback(async () => {
    try {
      setProfile(await http.get<Merchant>(`/merchants/${my.id}`));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [my.id]);

  useEffect(() => {
    void reloadProfile();
  }, [reloadProfile]);

  useEffect(() => unlockAudioOnGesture(), []);

  // The /merchant namespace: every store of this account is in the connection's rooms, so the
  // pushes name their merchant and only the open store's count here.
  useEffect(() => {
    const rt = realtime("/merchant");
    let alive = true;
    const offs: (() => void)[] = [];
    const keep = (off: Promise<() => void>): void => {
      off.then(
        (stop) => (alive ? offs.push(stop) : stop()),
        (e: unknown) => console.warn("merchant socket:", e),
      );
    };
    for (const name of LIVE_EVENTS) {
      keep(
        rt.on<OrderPush>(name, (push) => {
          if (push.merchant_id && push.merchant_id !== my.id) return;
          if (CALLS_FOR_ACTION.has(name)) {
            setUnread((prev) => new Set(prev).add(push.order_id));
            chime();
          } else {
            setUnread((prev) => {
              const next = new Set(prev);
              next.delete(push.order_id);
              return next;
            });
          }
          for (const listener of listeners.current) listener({ name, push });
        }),
      );
    }
    keep(
      rt.onConnect(() => {
        for (const listener of reconnectListeners.current) listener();
      }),
    );
    const offState = rt.onState(setState);
    return () => {
      alive = false;
      offs.forEach((stop) => stop());
      offState();
    };
  }, [my.id]);

  useEffect(() => {
    document.title = unread.size ? `(${unread.size}) ${t.title}` : t.title;
    return () => {
      document.title = common.appName;
    };
  }, [unread.size]);

  const value = useMemo<MerchantContextValue | null>(
    () =>
      profile
        ? {
            merchant: profile,
            role: my.role,
            reload: reloadProfile,
            unread,
            markRead: (orderId?: string) =>
              setUnread((prev) => {
                if (orderId === undefined) return new Set();
                const next = new Set(prev);
                next.delete(orderId);
                return next;
              }),
            onLive: (listener) => {
              listeners.current.add(listener);
              return () => listeners.current.delete(listener);
            },
            onReconnect: (listener) => {
              reconnectListeners.current.add(listener);
              return () => reconnectListeners.current.delete(listener);
            },
            connection: state,
          }
        : null,
    [profile, my.role, reloadProfile, unread, state],
  );

  const approved = profile?.status === "approved";
  return (
    <div className="desktop merchant">
      <nav className="sidebar" aria-label={t.title}>
        <strong>{t.title}</strong>
        <span className="store-name">{my.name}</span>
        <Bell to="/merchant/notifications" label={t.nav.notifications} />
        <NavLink to="/merchant" end>{t.nav.dashboard}</NavLink>
        <NavLink to="/merchant/orders" className={({ isActive }) => (isActive ? "active nav-orders" : "nav-orders")}>
          {t.nav.orders}
          {unread.size > 0 ? (
            <span className="nav-badge" data-testid="orders-badge">
              <span aria-hidden="true">{unread.size}</span>
              <span className="sr-only">{t.unread(unread.size)}</span>
            </span>
          ) : null}
        </NavLink>
        <NavLink to="/merchant/insights">{insights.merchantNav}</NavLink>
        <NavLink to="/merchant/conversations">{conversations.merchant.nav}</NavLink>
        <NavLink to="/merchant/group-buy-orders">{t.nav.groupBuyOrders}</NavLink>
        <NavLink to="/merchant/catalogue">{t.nav.catalogue}</NavLink>
        <NavLink to="/merchant/group-buys">{t.nav.groupBuys}</NavLink>
        <NavLink to="/merchant/coupons">{t.nav.coupons}</NavLink>
        <NavLink to="/merchant/courses">{courses.office.nav}</NavLink>
        <NavLink to="/merchant/statements">{t.nav.settlements}</NavLink>
        <NavLink to="/merchant/withdraw">{t.nav.withdraw}</NavLink>
        <NavLink to="/merchant/income">{t.nav.income}</NavLink>
        <NavLink to="/merchant/invoices">{t.nav.invoices}</NavLink>
        <NavLink to="/merchant/settings">{t.nav.settings}</NavLink>
        <NavLink to="/merchant/registration">{t.nav.registration}</NavLink>
        {mine.length > 1 ? (
          <button
            type="button"
            className="link"
            onClick={() => {
              onSwitch();
              navigate("/merchant");
            }}
          >
            {t.nav.switchStore}
          </button>
        ) : null}
        <p className={`live-state ${state}`} role="status">
          {state === "online" ? t.live.online : state === "refused" ? t.live.refused : t.live.offline}
        </p>
        <button type="button" className="link" onClick={() => void logout()}>{common.logout}</button>
      </nav>
      <main className="desktop-main">
        {error && !profile ? <Problem error={error} /> : null}
        {!value ? (
          error ? null : <Loading />
        ) : (
          <MerchantContext.Provider value={value}>
            {!approved && profile ? <p className="banner" role="note">{t.notApproved}</p> : null}
            <Routes>
              <Route index element={approved ? <DashboardPage /> : <Navigate to="/merchant/registration" replace />} />
              <Route path="dashboard" element={<DashboardPage />} />
              <Route path="orders" element={<OrdersPage />} />
              <Route path="group-buy-orders" element={<GroupBuyOrdersPage />} />
              <Route path="insights" element={<Suspense fallback={<Loading />}><InsightsPage /></Suspense>} />
              <Route path="catalogue" element={<CataloguePage />} />
              <Route path="group-buys" element={<GroupBuyCampaignsPage />} />
              <Route path="coupons" element={<CouponsPage />} />
              <Route path="courses" element={<MerchantCourses />} />
              <Route path="statements" element={<StatementsPage />} />
              <Route path="withdraw" element={<WithdrawPage />} />
              <Route path="income" element={<IncomePage />} />
              <Route path="invoices" element={<InvoicesPage />} />
              <Route path="settings" element={<SettingsPage />} />
              <Route path="registration" element={<RegistrationPage />} />
              <Route path="notifications" element={<NotificationsPage />} />
              <Route path="conversations/:id?" element={<MerchantConversations />} />
              <Route path="*" element={<Navigate to="/merchant" replace />} />
            </Routes>
          </MerchantContext.Provider>
        )}
      </main>
    </div>
  );
}
