// offgate in the editor: today's calls, spend and unmanaged share in the status bar; a panel
// with recent calls and open alerts. Everything is read from the local dashboard's API.
"use strict";

const vscode = require("vscode");
const dashboard = require("./lib/dashboard");

function activate(context) {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  item.name = "offgate";
  item.command = "offgate.showPanel";
  item.text = "$(sync~spin) offgate";
  item.show();
  let panel = null;
  let timer = null;

  async function refresh() {
    const settings = vscode.workspace.getConfiguration("offgate");
    try {
      const token = dashboard.readToken(dashboard.offgateHome(settings.get("home")));
      const state = await dashboard.readDashboard(settings.get("dashboardUrl"), token);
      item.text = dashboard.statusText(state.figures);
      item.tooltip = dashboard.statusTooltip(state.figures);
      if (panel) panel.webview.html = dashboard.panelHtml(state);
    } catch (error) {
      const problem = error instanceof dashboard.DashboardProblem ? error : new dashboard.DashboardProblem(
        String(error), "error");
      item.text = `$(warning) offgate: ${problem.short}`;
      item.tooltip = problem.message;
    }
  }

  function schedule() {
    if (timer) clearInterval(timer);
    const seconds = Math.max(5, vscode.workspace.getConfiguration("offgate").get("refreshSeconds") || 60);
    timer = setInterval(refresh, seconds * 1000);
  }

  context.subscriptions.push(
    item,
    vscode.commands.registerCommand("offgate.refresh", refresh),
    vscode.commands.registerCommand("offgate.showPanel", async () => {
      if (panel) {
        panel.reveal();
      } else {
        panel = vscode.window.createWebviewPanel("offgate", "offgate", vscode.ViewColumn.Beside, {});
        panel.onDidDispose(() => { panel = null; });
      }
      await refresh();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("offgate")) { schedule(); refresh(); }
    }),
    { dispose: () => timer && clearInterval(timer) },
  );
  schedule();
  return refresh();
}

function deactivate() {}

module.exports = { activate, deactivate };
