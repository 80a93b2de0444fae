import { useState, type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { useSession } from "../session";
import { common, coupons, courses, events, insights, points, resident, swaps } from "../strings";
import { Empty, Page, useLoad } from "../ui/kit";
import { ResidentError } from "./ResidentError";

interface Invitation {
  code: string;
  invited: Array<{ phone: string; status: string }>;
  earned: number;
}

/** The resident's invitation code, to copy and send to a neighbour (docs/points.md). */
function InvitationCard(): ReactNode {
  const [invitation, error] = useLoad(() => http.get<Invitation>("/me/invitation"), []);
  const [copied, setCopied] = useState(false);
  if (error) return <ResidentError error={error} />;
  if (!invitation) return null;
  const copy = async (): Promise<void> => {
    await navigator.clipboard?.writeText(invitation.code).catch(() => undefined);
    setCopied(true);
  };
  return (
    <div className="card">
      <span className="grow">
        {points.invitation}：<strong className="invite-code" data-testid="invite-code">{invitation.code}</strong>
        <br />
        <span className="small muted">{points.invitedCount(invitation.invited.length, invitation.earned)}</span>
      </span>
      <button type="button" className="secondary" onClick={() => void copy()} aria-label={`${points.copy} ${points.invitation}`}>
        {copied ? points.copied : points.copy}
      </button>
    </div>
  );
}

export function MePage(): ReactNode {
  const { me, communities, logout } = useSession();
  return (
    <Page title={resident.me.title}>
      <div className="card">
        <strong>{me?.display_name}</strong>
        <span className="muted"> {me?.phone}</span>
      </div>
      <InvitationCard />
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
        <Link to="/me/points">{points.meLink}</Link>
        <Link to="/events">{events.meLink}</Link>
        <Link to="/courses">{courses.title}</Link>
        <Link to="/me/courses">{courses.meLink}</Link>
        <Link to="/me/listings">{resident.me.myListings}</Link>
        <Link to="/me/membership">{resident.me.membership}</Link>
        <Link to="/me/virtual-number">{resident.me.virtualNumber}</Link>
        <Link to="/me/profile-data">{insights.profile.link}</Link>
        <Link to="/orders">{resident.me.myOrders}</Link>
        <Link to="/me/swaps">{swaps.meLink}</Link>
        <Link to="/me/coupons">{coupons.wallet.title}</Link>
        <Link to="/coupons">{coupons.centre.title}</Link>
        <Link to="/merchant">{resident.me.toMerchant}</Link>
        {me?.platform_role || communities.some((c) => c.role === "property_staff") ? <Link to="/console">{resident.me.toConsole}</Link> : null}
      </nav>
      <button type="button" className="secondary" onClick={() => void logout()}>
        {common.logout}
      </button>
    </Page>
  );
}
