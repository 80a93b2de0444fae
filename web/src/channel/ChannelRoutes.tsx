// The channel's screens in one chunk, loaded when a resident first opens one of them (the first
// screen stays small): /channel, /channel/:communityId, /lottery/:drawId, /support.
export { ChannelById, ChannelHome } from "./ChannelPage";
export { SupportPage } from "./SupportPage";
export { VerifyPage } from "./VerifyPage";
