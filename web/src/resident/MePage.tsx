import { type ReactNode } from "react";
import { Link } from "react-router";

import { useSession } from "../session";
import { common, resident } from "../strings";
import { Empty, Page } from "../ui/kit";

export function MePage(): ReactNode {
  const { me, communities, logout } = useSession();
  return (
    <Page title={resident.me.title}>
      <div className="card">
        <strong>{me?.display_name}</strong>
        <span className="muted"> {me?.phone}</span>
      </div>
      <h2>{resident.me.communities}</h2>
      {communities.length === 0 ? <Empty>{resident.home.noCommunity}</Empty> : null}
      <ul className="list">
        {communities.map((c) => (
          <li key={c.id} className="card">
            <span className="grow">{c.name}</span>
            <span className={`badge ${c.status}`}>{resident.me.verification[c.status] ?? c.status}</span>
            <span className="muted">{resident.me.roles[c.role] ?? c.role}</span>
          </li>
        ))}
      </ul>
      <nav className="list me-links" aria-label={resident.me.title}>
        <Link to="/communities">{communities.length ? resident.me.joinMore : resident.home.joinCommunity}</Link>
        <Link to="/me/listings">{resident.me.myListings}</Link>
        <Link to="/me/membership">{resident.me.membership}</Link>
        <Link to="/me/virtual-number">{resident.me.virtualNumber}</Link>
        <Link to="/orders">{resident.me.myOrders}</Link>
        <Link to="/merchant">{resident.me.toMerchant}</Link>
        {me?.platform_role || communities.some((c) => c.role === "property_staff") ? <Link to="/console">{resident.me.toConsole}</Link> : null}
      </nav>
      <button type="button" className="secondary" onClick={() => void logout()}>
        {common.logout}
      </button>
    </Page>
  );
}
