"use strict";(self.rspackChunkgraders_hub=self.rspackChunkgraders_hub||[]).push([[266],{646(e,r,t){var a=t(601),n=t.n(a),o=t(314),s=(t.n(o))()(n());s.push([e.id,`/* graders-hub: the grades panel and the top-bar indicator (src/index.ts). */
.graders-grades {
  overflow: auto;
  padding: 1em;
  font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1);
  background: var(--jp-layout-color1);
}

.graders-grades-table {
  border-collapse: collapse;
}

.graders-grades-table td,
.graders-grades-table th {
  border: 1px solid var(--jp-border-color2);
  padding: 4px 8px;
  text-align: left;
}

.graders-indicator {
  display: flex;
  align-items: center;
  gap: 0.6em;
  padding: 0 1em;
  font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1);
  white-space: nowrap;
}

.graders-indicator-summary {
  display: flex;
  gap: 0.4em;
}

.graders-clickable {
  cursor: pointer;
}

[data-state='queued'],
[data-state='grading'] {
  color: var(--jp-warn-color1);
}

[data-state='graded'] {
  color: var(--jp-success-color1);
}

[data-state='failed'],
.graders-error {
  color: var(--jp-error-color1);
}

.graders-indicator-score {
  font-weight: bold;
}

.graders-grades a.graders-feedback-link,
.graders-indicator a.graders-feedback-link {
  color: var(--jp-content-link-color, #1a73e8);
  text-decoration: underline;
}
`,""]),t.d(r,{},{A:s})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var t="",a=void 0!==r[5];return r[4]&&(t+="@supports (".concat(r[4],") {")),r[2]&&(t+="@media ".concat(r[2]," {")),a&&(t+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),t+=e(r),a&&(t+="}"),r[2]&&(t+="}"),r[4]&&(t+="}"),t}).join("")},r.i=function(e,t,a,n,o){"string"==typeof e&&(e=[[null,e,void 0]]);var s={};if(a)for(var c=0;c<this.length;c++){var i=this[c][0];null!=i&&(s[i]=!0)}for(var d=0;d<e.length;d++){var l=[].concat(e[d]);a&&s[l[0]]||(void 0!==o&&(void 0===l[5]||(l[1]="@layer".concat(l[5].length>0?" ".concat(l[5]):""," {").concat(l[1],"}")),l[5]=o),t&&(l[2]&&(l[1]="@media ".concat(l[2]," {").concat(l[1],"}")),l[2]=t),n&&(l[4]?(l[1]="@supports (".concat(l[4],") {").concat(l[1],"}"),l[4]=n):l[4]="".concat(n)),r.push(l))}},r}},601(e){e.exports=function(e){return e[1]}},665(e,r,t){t.r(r);var a=t(72),n=t.n(a),o=t(825),s=t.n(o),c=t(659),i=t.n(c),d=t(56),l=t.n(d),u=t(540),p=t.n(u),f=t(113),v=t.n(f),g=t(646),h={};h.styleTagTransform=v(),h.setAttributes=l(),h.insert=i().bind(null,"head"),h.domAPI=s(),h.insertStyleElement=p(),n()(g.A,h);let m=g.A&&g.A.locals?g.A.locals:void 0;t.d(r,{},{default:m})},72(e){var r=[];function t(e){for(var t=-1,a=0;a<r.length;a++)if(r[a].identifier===e){t=a;break}return t}function a(e,a){for(var n={},o=[],s=0;s<e.length;s++){var c=e[s],i=a.base?c[0]+a.base:c[0],d=n[i]||0,l="".concat(i," ").concat(d);n[i]=d+1;var u=t(l),p={css:c[1],media:c[2],sourceMap:c[3],supports:c[4],layer:c[5]};if(-1!==u)r[u].references++,r[u].updater(p);else{var f=function(e,r){var t=r.domAPI(r);return t.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&t.update(e=r):t.remove()}}(p,a);a.byIndex=s,r.splice(s,0,{identifier:l,updater:f,references:1})}o.push(l)}return o}e.exports=function(e,n){var o=a(e=e||[],n=n||{});return function(e){e=e||[];for(var s=0;s<o.length;s++){var c=t(o[s]);r[c].references--}for(var i=a(e,n),d=0;d<o.length;d++){var l=t(o[d]);0===r[l].references&&(r[l].updater(),r.splice(l,1))}o=i}}},659(e){var r={};e.exports=function(e,t){var a=function(e){if(void 0===r[e]){var t=document.querySelector(e);if(window.HTMLIFrameElement&&t instanceof window.HTMLIFrameElement)try{t=t.contentDocument.head}catch(e){t=null}r[e]=t}return r[e]}(e);if(!a)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");a.appendChild(t)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,t){e.exports=function(e){var r=t.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(t){var a,n,o;a="",t.supports&&(a+="@supports (".concat(t.supports,") {")),t.media&&(a+="@media ".concat(t.media," {")),(n=void 0!==t.layer)&&(a+="@layer".concat(t.layer.length>0?" ".concat(t.layer):""," {")),a+=t.css,n&&(a+="}"),t.media&&(a+="}"),t.supports&&(a+="}"),(o=t.sourceMap)&&"u">typeof btoa&&(a+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(o))))," */")),e.styleTagTransform(a,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}}}]);