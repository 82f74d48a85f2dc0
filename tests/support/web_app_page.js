// The fake web apps' page (tests/support/web_apps.py): makes one call with a recorded fixture's
// request through the transport in the URL, reads the whole answer, then sets the title to
// "done" and leaves what it got in window.offgateTestResult.
(async () => {
  const params = new URLSearchParams(location.search);
  const name = params.get("fixture");
  if (!name) return;
  const fixture = await (await fetch(`/__test/fixture?name=${encodeURIComponent(name)}`)).json();
  const url = fixture.path + (fixture.query ? `?${fixture.query}` : "");
  const json = { "content-type": "application/json" };

  const transports = {
    async fetch() {
      const response = await fetch(url, { method: fixture.method, body: fixture.request_body, headers: json });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return { status: response.status, text };
    },

    xhr() {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open(fixture.method, url);
        xhr.setRequestHeader("content-type", "application/json");
        xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
        xhr.onerror = () => reject(new Error("xhr failed"));
        xhr.send(fixture.request_body);
      });
    },

    eventsource() {
      return new Promise((resolve) => {
        const source = new EventSource(url);
        const data = [];
        source.onmessage = (event) => data.push(event.data);
        // An EventSource hands a named event only to listeners of that name.
        for (const name of ["delta_encoding", "delta"]) source.addEventListener(name, (event) => data.push(event.data));
        source.onerror = () => {
          source.close();
          resolve({ status: 200, text: data.join("\n") });
        };
      });
    },

    websocket() {
      return new Promise((resolve, reject) => {
        const socket = new WebSocket(`wss://${location.host}${url}`);
        const received = [];
        let waiting = null;
        socket.onmessage = (event) => {
          received.push(event.data);
          if (waiting) waiting();
        };
        socket.onerror = () => reject(new Error("websocket failed"));
        socket.onopen = async () => {
          let seen = 0;
          for (const [fromClient, text] of fixture.messages) {
            if (fromClient) {
              socket.send(text);
            } else {
              seen += 1;
              while (received.length < seen) await new Promise((wake) => { waiting = wake; });
            }
          }
          socket.onclose = () => resolve({ status: 101, text: received.join("\n") });
          socket.close(1000);
        };
      });
    },
  };

  try {
    window.offgateTestResult = await transports[params.get("transport")]();
    document.title = "done";
  } catch (error) {
    window.offgateTestResult = { error: String(error) };
    document.title = "failed";
  }
})();
