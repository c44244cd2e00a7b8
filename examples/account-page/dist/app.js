"use strict";(()=>{function f(e){return e===null?"null":Array.isArray(e)?"array":typeof e}function D(e){return f(e)==="object"}function Ne(e){return Array.isArray(e)&&e.length>0&&e.every(t=>"message"in t)}function z(e,t){return e.length<124?e:t}var ce="graphql-transport-ws";var S=(e=>(e[e.InternalServerError=4500]="InternalServerError",e[e.InternalClientError=4005]="InternalClientError",e[e.BadRequest=4400]="BadRequest",e[e.BadResponse=4004]="BadResponse",e[e.Unauthorized=4401]="Unauthorized",e[e.Forbidden=4403]="Forbidden",e[e.SubprotocolNotAcceptable=4406]="SubprotocolNotAcceptable",e[e.ConnectionInitialisationTimeout=4408]="ConnectionInitialisationTimeout",e[e.ConnectionAcknowledgementTimeout=4504]="ConnectionAcknowledgementTimeout",e[e.SubscriberAlreadyExists=4409]="SubscriberAlreadyExists",e[e.TooManyInitialisationRequests=4429]="TooManyInitialisationRequests",e))(S||{}),w=(e=>(e.ConnectionInit="connection_init",e.ConnectionAck="connection_ack",e.Ping="ping",e.Pong="pong",e.Subscribe="subscribe",e.Next="next",e.Error="error",e.Complete="complete",e))(w||{});function ue(e){if(!D(e))throw new Error(`Message is expected to be an object, but got ${f(e)}`);if(!e.type)throw new Error("Message is missing the 'type' property");if(typeof e.type!="string")throw new Error(`Message is expects the 'type' property to be a string, but got ${f(e.type)}`);switch(e.type){case"connection_init":case"connection_ack":case"ping":case"pong":{if(e.payload!=null&&!D(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object or nullish or missing, but got "${e.payload}"`);break}case"subscribe":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!D(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${f(e.payload)}`);if(typeof e.payload.query!="string")throw new Error(`"${e.type}" message payload expects the 'query' property to be a string, but got ${f(e.payload.query)}`);if(e.payload.variables!=null&&!D(e.payload.variables))throw new Error(`"${e.type}" message payload expects the 'variables' property to be a an object or nullish or missing, but got ${f(e.payload.variables)}`);if(e.payload.operationName!=null&&f(e.payload.operationName)!=="string")throw new Error(`"${e.type}" message payload expects the 'operationName' property to be a string or nullish or missing, but got ${f(e.payload.operationName)}`);if(e.payload.extensions!=null&&!D(e.payload.extensions))throw new Error(`"${e.type}" message payload expects the 'extensions' property to be a an object or nullish or missing, but got ${f(e.payload.extensions)}`);break}case"next":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!D(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${f(e.payload)}`);break}case"error":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!Ne(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an array of GraphQL errors, but got ${JSON.stringify(e.payload)}`);break}case"complete":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);break}default:throw new Error(`Invalid message 'type' property "${e.type}"`)}return e}function pe(e,t){return ue(typeof e=="string"?JSON.parse(e,t):e)}function N(e,t){return ue(e),JSON.stringify(e,t)}function Y(e){let{url:t,connectionParams:s,lazy:o=!0,onNonLazyError:O=console.error,lazyCloseTimeout:h=0,keepAlive:B=0,disablePong:ke,connectionAckWaitTimeout:U=0,retryAttempts:ne=5,retryWait:Ae=async function(c){let n=Math.pow(2,c);await new Promise(a=>setTimeout(a,n*1e3+Math.floor(Math.random()*2700+300)))},shouldRetry:Oe=J,on:g,webSocketImpl:K,generateID:ve=function(){return"xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g,c=>{let n=Math.random()*16|0;return(c=="x"?n:n&3|8).toString(16)})},jsonMessageReplacer:q,jsonMessageReviver:Ie}=e,v;if(K){if(!_e(K))throw new Error("Invalid WebSocket implementation provided");v=K}else typeof WebSocket<"u"?v=WebSocket:typeof global<"u"?v=global.WebSocket||global.MozWebSocket:typeof window<"u"&&(v=window.WebSocket||window.MozWebSocket);if(!v)throw new Error("WebSocket implementation missing; on Node you can `import WebSocket from 'ws';` and pass `webSocketImpl: WebSocket` to `createClient`");let k=v,y=(()=>{let r=(()=>{let n={};return{on(a,p){return n[a]=p,()=>{delete n[a]}},emit(a){"id"in a&&n[a.id]?.(a)}}})(),c={connecting:g?.connecting?[g.connecting]:[],opened:g?.opened?[g.opened]:[],connected:g?.connected?[g.connected]:[],ping:g?.ping?[g.ping]:[],pong:g?.pong?[g.pong]:[],message:g?.message?[r.emit,g.message]:[r.emit],closed:g?.closed?[g.closed]:[],error:g?.error?[g.error]:[]};return{onMessage:r.on,on(n,a){let p=c[n];return p.push(a),()=>{let d=p.indexOf(a);d>-1&&p.splice(d,1)}},emit(n,...a){for(let p of[...c[n]])p(...a)}}})();function Q(r){let c=[y.on("error",n=>{c.forEach(a=>a()),r(n)}),y.on("closed",n=>{c.forEach(a=>a()),r(n)})];return()=>c.forEach(n=>n())}let A,E=0,H,_=!1,F=0,re=!1;async function oe(){clearTimeout(H);let[r,c]=await(A??(A=new Promise((p,d)=>(async()=>{if(_){if(await Ae(F),!E)return A=void 0,d({code:1e3,reason:"All Subscriptions Gone"});F++}y.emit("connecting",_);let i=new k(typeof t=="function"?await t():t,ce),x,I;function W(){isFinite(B)&&B>0&&(clearTimeout(I),I=setTimeout(()=>{i.readyState===k.OPEN&&(i.send(N({type:w.Ping})),y.emit("ping",!1,void 0))},B))}Q(m=>{A=void 0,clearTimeout(x),clearTimeout(I),d(m),m instanceof $&&(i.close(4499,"Terminated"),i.onerror=null,i.onclose=null)}),i.onerror=m=>y.emit("error",m),i.onclose=m=>y.emit("closed",m),i.onopen=async()=>{try{y.emit("opened",i);let m=typeof s=="function"?await s():s;if(i.readyState!==k.OPEN)return;i.send(N(m?{type:w.ConnectionInit,payload:m}:{type:w.ConnectionInit},q)),isFinite(U)&&U>0&&(x=setTimeout(()=>{i.close(S.ConnectionAcknowledgementTimeout,"Connection acknowledgement timeout")},U)),W()}catch(m){y.emit("error",m),i.close(S.InternalClientError,z(m instanceof Error?m.message:String(m),"Internal client error"))}};let M=!1;i.onmessage=({data:m})=>{try{let l=pe(m,Ie);if(y.emit("message",l),l.type==="ping"||l.type==="pong"){y.emit(l.type,!0,l.payload),l.type==="pong"?W():ke||(i.send(N(l.payload?{type:w.Pong,payload:l.payload}:{type:w.Pong},q)),y.emit("pong",!1,l.payload));return}if(M)return;if(l.type!==w.ConnectionAck)throw new Error(`First message cannot be of type ${l.type}`);clearTimeout(x),M=!0,y.emit("connected",i,l.payload,_),_=!1,F=0;let ae=new Promise((Le,Me)=>Q(Me));ae.catch(()=>{}),p([i,ae])}catch(l){i.onmessage=null,y.emit("error",l),i.close(S.BadResponse,z(l instanceof Error?l.message:String(l),"Bad response"))}}})())));r.readyState===k.CLOSING&&await c;let n=()=>{},a=new Promise(p=>n=p);return[r,n,new Promise((p,d)=>{let i=Q(d);r.readyState!==k.OPEN&&c.catch(d),a.then(()=>{if(i(),!E){let x=()=>r.close(1e3,"Normal Closure");isFinite(h)&&h>0?(clearTimeout(H),H=setTimeout(()=>{!E&&r.readyState===k.OPEN&&x()},h)):x()}p()})})]}function se(r){if(J(r)&&(Pe(r.code)||[S.InternalServerError,S.InternalClientError,S.BadRequest,S.BadResponse,S.Unauthorized,S.SubprotocolNotAcceptable,S.SubscriberAlreadyExists,S.TooManyInitialisationRequests].includes(r.code)))throw r;if(re)return!1;if(J(r)&&r.code===1e3)return E>0;if(!ne||F>=ne||!Oe(r))throw r;return _=!0}o||(async()=>{for(E++;;)try{let[,,r]=await oe();await r}catch(r){try{if(!se(r))return}catch(c){return O?.(c)}}})();function ie(r,c){let n=ve(r),a=!1,p=!1,d=()=>{E--,a=!0};return(async()=>{for(E++;;)try{let[i,x,I]=await oe();if(a)return I.catch(()=>{}),x();let W=y.onMessage(n,M=>{switch(M.type){case w.Next:{c.next(M.payload);return}case w.Error:{p=!0,a=!0,c.error(M.payload),d();return}case w.Complete:{a=!0,d();return}}});i.send(N({id:n,type:w.Subscribe,payload:r},q)),d=()=>{!a&&i.readyState===k.OPEN&&i.send(N({id:n,type:w.Complete},q)),E--,a=!0,x()},await I.finally(W);return}catch(i){if(!se(i))return}})().then(()=>{p||c.complete()}).catch(i=>{c.error(i)}),()=>{a||d()}}return{on:y.on,subscribe:ie,iterate(r){let c=[],n={done:!1,error:null,resolve:()=>{}},a=ie(r,{next(d){c.push(d),n.resolve()},error(d){n.done=!0,n.error=d,n.resolve()},complete(){n.done=!0,n.resolve()}}),p=(async function*(){for(;;){for(c.length||await new Promise(i=>n.resolve=i);c.length;)yield c.shift();if(n.error)throw n.error;if(n.done)return}})();return p.throw=async d=>(n.done||(n.done=!0,n.error=d,n.resolve()),{done:!0,value:void 0}),p.return=async()=>(a(),{done:!0,value:void 0}),p},async dispose(){if(re=!0,A){let[r]=await A;r.close(1e3,"Normal Closure")}},terminate(){A&&y.emit("closed",new $)}}}var $=class extends Error{name="TerminatedCloseEvent";message="4499: Terminated";code=4499;reason="Terminated";wasClean=!1};function J(e){return D(e)&&"code"in e&&"reason"in e}function Pe(e){return[1e3,1001,1006,1005,1012,1013,1014].includes(e)?!1:e>=1e3&&e<=1999}function _e(e){return typeof e=="function"&&"constructor"in e&&"CLOSED"in e&&"CLOSING"in e&&"CONNECTING"in e&&"OPEN"in e}var C=class extends Error{constructor(s,o){super(s);this.code=o}code},de=["SESSION_ENDED","UNAUTHENTICATED"];async function T(e,t,s){let O=await(await fetch("/graphql",{method:"POST",headers:{"Content-Type":"application/json",Accept:"application/graphql-response+json, application/json",Authorization:`Bearer ${s}`},body:JSON.stringify({query:e.toString(),variables:t})})).json(),h=O.errors?.[0];if(h)throw new C(h.message,h.extensions?.code??"UNKNOWN");return O.data}function le(e,t){let s=new URL("/graphql/ws",window.location.href);return s.protocol=s.protocol==="https:"?"wss:":"ws:",Y({url:s.href,connectionParams:{Authorization:`Bearer ${e}`},shouldRetry:o=>!(o instanceof CloseEvent&&o.code===4403),on:{closed:o=>t(o?.code??0)}})}function G(e,t,s){return e.subscribe({query:t.toString()},{next:o=>o.data&&s(o.data),error:()=>{},complete:()=>{}})}var b=class extends String{__apiType;value;__meta__;constructor(t,s){super(t),this.value=t,this.__meta__=s}toString(){return this.value}},Ke=new b(`
    fragment SessionRow on Session {
  id
  isCurrent
  startedAt
  lastActivityAt
  ipAddress
  loginMethod
  location {
    city
    country
  }
}
    `,{fragmentName:"SessionRow"}),ge=new b(`
    mutation StartSession($input: StartSessionInput!) {
  startSession(input: $input) {
    token
    deviceToken
    session {
      id
    }
  }
}
    `),ye=new b(`
    query AccountPage {
  devices {
    id
    name
    type
    isCurrent
    isTrusted
    status
    lastSeenAt
    browser {
      name
      version
    }
    os {
      name
      version
    }
    sessions {
      ...SessionRow
    }
  }
}
    fragment SessionRow on Session {
  id
  isCurrent
  startedAt
  lastActivityAt
  ipAddress
  loginMethod
  location {
    city
    country
  }
}`),me=new b(`
    mutation TrustDevice($id: ID!) {
  trustDevice(id: $id) {
    id
  }
}
    `),fe=new b(`
    mutation RenameDevice($id: ID!, $name: String!) {
  renameDevice(id: $id, name: $name) {
    id
  }
}
    `),Se=new b(`
    mutation ForgetDevice($id: ID!) {
  forgetDevice(id: $id) {
    deviceId
  }
}
    `),we=new b(`
    mutation RevokeSession($id: ID!) {
  revokeSession(id: $id) {
    id
  }
}
    `),be=new b(`
    mutation RevokeOtherSessions {
  revokeAllSessions(includeCurrent: false) {
    revokedCount
  }
}
    `),he=new b(`
    subscription SessionStarted {
  sessionStarted {
    id
  }
}
    `),xe=new b(`
    subscription SessionRevoked {
  sessionRevoked {
    session {
      id
    }
  }
}
    `),Ee=new b(`
    subscription SignedOut {
  signedOut {
    reason
    at
  }
}
    `);var te="sessionhub.session",De="sessionhub.device",V=document.getElementById("app"),R;function u(e,t={},...s){let o=document.createElement(e);for(let[O,h]of Object.entries(t))o.setAttribute(O,h);return o.append(...s),o}function P(e,t,s){let o=u("button",{class:t,type:"button"},e);return o.addEventListener("click",()=>j(s)),o}async function j(e){try{await e()}catch(t){t instanceof C&&de.includes(t.code)?Z():$e(t instanceof Error?t.message:String(t))}}function $e(e){document.getElementById("error")?.remove(),V.prepend(u("p",{id:"error",class:"error",role:"alert"},e))}function X(e){return new Date(e).toLocaleString()}function Te(e){V.replaceChildren(),e&&V.append(e);let t=u("textarea",{id:"identity",rows:"4",placeholder:"identity token (sessionhub token --user alice)"}),s=u("input",{id:"device-name",placeholder:"this device's name"});V.append(u("h1",{},"Sign in"),u("p",{},"Paste an identity token from your login (in development: ",u("code",{},"cargo run -- token --user alice"),")."),t,s,P("Sign in","primary",async()=>{let o=await T(ge,{input:{deviceName:s.value.trim()||null,deviceToken:localStorage.getItem(De)}},t.value.trim());sessionStorage.setItem(te,o.startSession.token),localStorage.setItem(De,o.startSession.deviceToken),await Re()}))}function Z(){R?.dispose(),R=void 0,sessionStorage.removeItem(te);let e=u("p",{id:"signed-out",class:"banner",role:"status"},"You were signed out. Sign in again to see where you are signed in.");Te(e)}function L(e,t){return async()=>{await t(),await ee(e)}}function Ce(e,t){let s=[t.location?.city,t.location?.country].filter(Boolean).join(", ");return u("li",{class:"session","data-session-id":t.id},u("span",{},t.isCurrent?"This session":`Active ${X(t.lastActivityAt)}`,` \xB7 signed in ${X(t.startedAt)}`,t.loginMethod?` with ${t.loginMethod}`:"",t.ipAddress?` \xB7 ${t.ipAddress}`:"",s?` \xB7 ${s}`:""),t.isCurrent?"":P("Sign out","revoke",L(e,()=>T(we,{id:t.id},e))))}function Ve(e,t){let s=[t.browser?.name,t.os?.name].filter(Boolean).join(" on ");return u("section",{class:"device","data-device-id":t.id},u("h2",{},u("span",{class:"name"},t.name),t.isCurrent?u("span",{class:"tag"},"this device"):"",t.isTrusted?u("span",{class:"tag trusted"},"trusted"):"",t.status==="HIJACKED"?u("span",{class:"tag danger"},"hijacked"):""),u("p",{class:"meta"},`${t.type.toLowerCase()} \xB7 ${s||"unknown software"} \xB7 last seen ${X(t.lastSeenAt)}`),u("ul",{},...t.sessions.map(o=>Ce(e,o))),u("div",{class:"actions"},t.isTrusted?"":P("Trust","trust",L(e,()=>T(me,{id:t.id},e))),P("Rename","rename",L(e,async()=>{let o=window.prompt("New name for this device",t.name);o&&await T(fe,{id:t.id,name:o},e)})),t.isCurrent?"":P("Forget","forget",L(e,()=>T(Se,{id:t.id},e)))))}async function ee(e){let{devices:t}=await T(ye,{},e),s=t.flatMap(o=>o.sessions).filter(o=>!o.isCurrent);V.replaceChildren(u("h1",{},"Where you're signed in"),u("p",{id:"live",class:"meta"},R?"Updates live.":""),...t.map(o=>Ve(e,o)),s.length>0?P("Sign out of all other sessions","danger",L(e,()=>T(be,{},e))):"")}async function Re(){let e=sessionStorage.getItem(te);if(!e)return Te();R?.dispose(),R=le(e,s=>s===4403&&Z());let t=()=>j(()=>ee(e));G(R,he,t),G(R,xe,t),G(R,Ee,Z),await j(()=>ee(e))}j(Re);})();
