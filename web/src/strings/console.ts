export const consoleText = {
  title: "管理控制台",
  nav: { residents: "居民审核", moderation: "频道管理", lockers: "智能柜", live: "直播", draws: "抽奖", merchants: "商家审核", communities: "小区与物业", support: "客服" },
} as const;
